"""Sinks never undo or fail upkeep; with access control on, an unreachable audit store stops the
operation before it changes anything.

Pushgateway "down" is a real Pushgateway behind a `FaultProxy` answering 503 (and, for the
Dagster job, a port nothing listens on); the audit store is a real PostgreSQL behind a TCP
`FaultProxy` that resets every connection."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import dagster as dg
import pytest
import requests

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.dagster import LakehouseResource, lakehouse_maintenance_definitions
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import AuditUnavailable
from phlo_lakehouse.hooks import HookSettings, build_hooks
from phlo_lakehouse.operations import OptimizeOperation
from phlo_lakehouse.testing.fault_proxy import FaultProxy
from phlo_lakehouse.testing.faults import Fault
from phlo_lakehouse_tests.conftest import require_env
from phlo_lakehouse_tests.operations.conftest import data_file_paths, rows_of


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.pushgateway
def test_an_unreachable_pushgateway_is_a_warning_and_a_counted_failure(tmp_path):
    gateway = urlsplit(require_env("PHLO_TEST_PUSHGATEWAY_URL", "pushgateway"))
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lh"))
    seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=10)
    with FaultProxy(gateway.hostname or "127.0.0.1", gateway.port or 9091) as proxy:
        job = f"sinks_{tmp_path.name[-8:]}"
        settings = HookSettings(pushgateway_url=proxy.url, metrics_job=job)
        lakehouse.hooks = build_hooks(settings, lakehouse)
        down = proxy.add(Fault("status", method="PUT|POST", status=503))

        with pytest.warns(RuntimeWarning, match="pushgateway not written"):
            result = lakehouse.run(OptimizeOperation(min_input_files=2), "demo.events")

        assert result.committed and down.fired == 1
        assert "pushgateway not written" in result.details["sink_failures"][0]
        proxy.remove(down)
        lakehouse.run(OptimizeOperation(min_input_files=2), "demo.events", dry_run=True)
        pushed = requests.get(f"{gateway.geturl()}/metrics", timeout=10).text
        requests.delete(f"{gateway.geturl()}/metrics/job/{job}", timeout=10)
    line = next(
        ln for ln in pushed.splitlines()
        if ln.startswith("phlo_lakehouse_sink_failures_total") and f'job="{job}"' in ln
    )  # fmt: skip
    assert 'sink="pushgateway"' in line and line.endswith(" 1")


def test_a_dagster_maintenance_job_succeeds_and_warns_when_the_pushgateway_is_down(tmp_path):
    home = tmp_path / "lh"
    resource = LakehouseResource(
        home=str(home), pushgateway_url=f"http://127.0.0.1:{_closed_port()}"
    )
    handle = seed_demo_table(resource.get_lakehouse(), "demo.events", commits=8)
    before = rows_of(handle)
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["demo.events"]),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    job = defs.resolve_job_def("lakehouse_maintenance")
    with dg.instance_for_test() as instance:
        with pytest.warns(RuntimeWarning):
            run = job.execute_in_process(instance=instance)
        warnings = [
            e.user_message
            for e in instance.all_logs(run.run_id)
            if e.level == logging.WARNING and "pushgateway not written" in e.user_message
        ]
    assert run.success
    assert len(warnings) >= 3  # optimize, expire, vacuum: one each
    after = resource.get_table("demo.events")
    assert rows_of(after) == before and after.snapshot_id != handle.snapshot_id


@pytest.mark.postgres
def test_with_access_control_an_unreachable_audit_store_stops_the_operation_first(tmp_path):
    url = require_env("PHLO_TEST_POSTGRES_URL", "postgres")
    parts = urlsplit(url)
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lh"))
    handle = seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=10)
    before = (rows_of(handle), data_file_paths(handle), handle.snapshot_id)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5432, mode="tcp") as proxy:
        proxied = url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
        settings = HookSettings(access_control=True, access_db_url=proxied)
        lakehouse.hooks = build_hooks(settings, lakehouse)
        proxy.add(Fault("reset"))  # every chunk any client sends: the store is unreachable

        with pytest.raises(AuditUnavailable, match="audit store is unreachable") as caught:
            lakehouse.run(OptimizeOperation(min_input_files=2), "demo.events", principal="ops")

    assert "nothing was changed" in str(caught.value) and caught.value.hint
    after = lakehouse.get_table("demo.events")
    assert (rows_of(after), data_file_paths(after), after.snapshot_id) == before
    files = {p.name for p in (tmp_path / "lh").rglob("*.parquet")}
    assert files == {p.rsplit("/", 1)[-1] for p in before[1]}  # nothing written either
