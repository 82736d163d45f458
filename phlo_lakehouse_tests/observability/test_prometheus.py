"""Prometheus metrics of maintenance runs: counted by the executor hook, pushed to a real
Pushgateway, read back over HTTP, and checked by promtool."""

import shutil
import subprocess
import uuid

import pytest
import requests

from phlo_lakehouse import CatalogSettings, IcebergLakehouse, InvalidDuration, TableNotFound
from phlo_lakehouse.demo import plant_orphans, seed_demo_table
from phlo_lakehouse.observability import OperationTracer, PrometheusObservability
from phlo_lakehouse.operations import ExpireSnapshotsOperation, VacuumOperation
from phlo_lakehouse_tests.conftest import missing_service, require_env


def _lakehouse(tmp_path, metrics):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lh"))
    lakehouse.hooks.append(OperationTracer(metrics, lakehouse))
    return lakehouse


def _sample(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels)


def test_every_operation_is_counted_with_its_outcome(tmp_path):
    metrics = PrometheusObservability()
    lakehouse = _lakehouse(tmp_path, metrics)
    handle = seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=50)
    plant_orphans(handle, count=3)

    lakehouse.optimize_table("demo.events", dry_run=True)
    lakehouse.optimize_table("demo.events")
    lakehouse.vacuum("demo.events")
    with pytest.raises(InvalidDuration):
        lakehouse.run(ExpireSnapshotsOperation(older_than="-1d"), "demo.events")
    with pytest.raises(TableNotFound):
        lakehouse.run(VacuumOperation(), "demo.nope")

    ops = "phlo_lakehouse_operations_total"
    assert _sample(metrics, ops, operation="optimize", status="dry_run") == 1
    assert _sample(metrics, ops, operation="optimize", status="success") == 1
    assert _sample(metrics, ops, operation="vacuum", status="success") == 1
    assert _sample(metrics, ops, operation="vacuum", status="not_found") == 1
    rewritten = "phlo_lakehouse_files_rewritten_total"
    assert _sample(metrics, rewritten, operation="optimize") == 24
    assert _sample(metrics, "phlo_lakehouse_files_deleted_total", operation="vacuum") == 3
    assert _sample(metrics, "phlo_lakehouse_table_data_files", table="demo.events") == 4
    assert (
        _sample(
            metrics,
            "phlo_lakehouse_operation_duration_seconds_count",
            operation="optimize",
            status="success",
        )
        == 1
    )


def test_metric_names_pass_promtool(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_service("promtool is not installed (Debian package prometheus)")
    metrics = PrometheusObservability()
    lakehouse = _lakehouse(tmp_path, metrics)
    seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=10)
    lakehouse.optimize_table("demo.events")
    lakehouse.expire_snapshots("demo.events", older_than="0s")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=metrics.exposition(), capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == ""


@pytest.mark.pushgateway
def test_a_maintenance_run_pushes_to_a_real_pushgateway(tmp_path):
    gateway = require_env("PHLO_TEST_PUSHGATEWAY_URL", "pushgateway")
    job = f"phlo_test_{uuid.uuid4().hex[:8]}"
    from phlo_lakehouse.dagster import LakehouseResource

    resource = LakehouseResource(
        home=str(tmp_path / "lh"), pushgateway_url=gateway, metrics_job=job
    )
    seed_demo_table(resource.get_lakehouse(), "demo.events", commits=6, rows_per_commit=50)
    resource.optimize_table("demo.events")

    text = requests.get(f"{gateway}/metrics", timeout=10).text
    lines = [line for line in text.splitlines() if f'job="{job}"' in line]
    assert any(
        line.startswith("phlo_lakehouse_operations_total")
        and 'operation="optimize"' in line
        and 'status="success"' in line
        and line.endswith(" 1")
        for line in lines
    ), lines
    assert any(
        line.startswith("phlo_lakehouse_files_rewritten_total") and line.endswith(" 24")
        for line in lines
    )
    assert any(
        line.startswith("phlo_lakehouse_table_data_files") and line.endswith(" 4") for line in lines
    )
    requests.delete(f"{gateway}/metrics/job/{job}", timeout=10)


def test_serve_exposes_metrics_over_http(tmp_path):
    import socket

    metrics = PrometheusObservability()
    metrics.increment("files_deleted", 5, operation="vacuum")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, thread = metrics.serve(port)
    try:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'phlo_lakehouse_files_deleted_total{operation="vacuum"} 5.0' in body
    finally:
        server.shutdown()
