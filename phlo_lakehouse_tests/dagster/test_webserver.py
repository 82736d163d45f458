"""The main job through a real ``dagster dev`` (webserver + daemon + code server) on loopback.

A module fixture starts the server over a seeded demo lakehouse (see `dev_server`). The tests
drive it the way the UI does — GraphQL ``launchRun`` — and read the results back from the same
Dagster instance.

Workspace: the server is started on a copy of the repo's ``workspace.yaml`` whose working
directory is made absolute (``test_repo_workspace_loads`` checks the repo's file itself loads).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from phlo_lakehouse import IcebergLakehouse
from phlo_lakehouse.dagster.checks import CHECK_NAME
from phlo_lakehouse.definitions import MAIN_JOB
from phlo_lakehouse.demo import DEMO_TABLE
from phlo_lakehouse.storage.listing import list_storage
from phlo_lakehouse_tests.dagster.dev_server import (
    IN_PROCESS,
    REPO_ROOT,
    DagsterServer,
    running_server,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

KEY = dg.AssetKey(DEMO_TABLE.split("."))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterServer]:
    with running_server(tmp_path_factory.mktemp("dagster-dev")) as running:
        yield running


def _storage(lakehouse: IcebergLakehouse) -> set[str]:
    handle = lakehouse.get_table(DEMO_TABLE)
    return {f.path for f in list_storage(handle.table.io, handle.table.location())}


def _state(lakehouse: IcebergLakehouse) -> dict[str, Any]:
    handle = lakehouse.get_table(DEMO_TABLE)
    stats = lakehouse.collect_stats(DEMO_TABLE)
    return {
        "snapshot_id": handle.table.current_snapshot().snapshot_id,
        "snapshots": stats.snapshot_count,
        "data_files": stats.file_count,
        "stored": _storage(lakehouse),
        "event_ids": sorted(handle.to_arrow().column("event_id").to_pylist()),
    }


def _observations(server: DagsterServer, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's AssetObservations on demo/events, by operation, metadata as plain values."""
    with server.instance() as instance:
        records = instance.fetch_observations(KEY, limit=100).records
    found = {}
    for record in records:
        if record.run_id == run_id:
            meta = {k: v.value for k, v in record.asset_observation.metadata.items()}
            found[meta["lakehouse/operation"]] = meta
    return found


def test_repo_workspace_loads():
    """The repo's workspace.yaml loads one Definitions, with and without its attribute pin
    (autodiscovery accepts exactly one module-level Definitions)."""
    from dagster._core.workspace.autodiscovery import loadable_targets_from_python_module

    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    for entry in workspace["load_from"]:
        target = entry["python_module"]
        found = loadable_targets_from_python_module(target["module_name"], str(REPO_ROOT))
        assert [t.attribute for t in found] == [target.get("attribute", "defs")]


def test_maintenance_via_graphql_dry_run_then_real(server: DagsterServer):
    lakehouse = server.lakehouse
    selector = server.selector(MAIN_JOB)
    select_op = f"{MAIN_JOB}__select_tables"
    before = _state(lakehouse)
    assert before["data_files"] == 100 and before["snapshots"] == 25
    assert set(server.orphans) <= before["stored"]

    # 1. dry run: every step plans, nothing changes.
    dry_config = {"ops": {select_op: {"config": {"tables": [DEMO_TABLE], "dry_run": True}}}}
    dry_id = server.run_to_success(selector, {**dry_config, **IN_PROCESS})
    assert _state(lakehouse) == before
    assert all(Path(p.removeprefix("file://")).exists() for p in server.orphans)
    assert _observations(server, dry_id) == {}  # a preview is not the table's state
    with server.instance() as instance:
        assert instance.get_run_by_id(dry_id).tags.get("phlo/dry-run") == "true"

    # 2. for real, with snapshots expiring now (older_than 0s).
    real_config = {
        "ops": {select_op: {"config": {"tables": [DEMO_TABLE], "expire": {"older_than": "0s"}}}}
    }
    real_id = server.run_to_success(selector, {**real_config, **IN_PROCESS})
    after = _state(lakehouse)
    assert after["event_ids"] == before["event_ids"]
    assert after["data_files"] == 4  # one per day partition
    assert after["snapshots"] == 1
    assert not any(Path(p.removeprefix("file://")).exists() for p in server.orphans)
    assert not set(server.orphans) & after["stored"]
    assert len(after["stored"]) < len(before["stored"])

    real = _observations(server, real_id)
    assert set(real) == {"optimize", "expire", "vacuum"}
    assert all(meta["lakehouse/dry_run"] is False for meta in real.values())
    optimize, expire = real["optimize"], real["expire"]
    assert optimize["lakehouse/committed"] is True
    assert optimize["before/file_count"] == 100 > optimize["after/file_count"] == 4
    assert optimize["before/row_count"] == optimize["after/row_count"] == 2500
    assert expire["before/snapshot_count"] > expire["after/snapshot_count"] == 1
    assert real["vacuum"]["lakehouse/orphan_files_deleted"] == len(server.orphans)

    with server.instance() as instance:
        runs = {r.run_id: r for r in instance.get_runs()}
    assert runs[real_id].job_name == MAIN_JOB
    assert runs[real_id].tags.get("phlo/lakehouse-maintenance") == "true"


def test_stats_check_via_graphql(server: DagsterServer):
    selector = {
        **server.selector("__ASSET_JOB"),
        "assetSelection": [],
        "assetCheckSelection": [{"assetKey": {"path": KEY.path}, "name": CHECK_NAME}],
    }
    run_id = server.run_to_success(selector, {})
    check_key = dg.AssetCheckKey(KEY, CHECK_NAME)
    with server.instance() as instance:
        history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=5)
    record = next(r for r in history if r.run_id == run_id)
    evaluation = record.event.dagster_event.event_specific_data
    assert isinstance(evaluation, dg.AssetCheckEvaluation)
    assert (evaluation.asset_key, evaluation.check_name) == (KEY, CHECK_NAME)

    meta = {k: v.value for k, v in evaluation.metadata.items()}
    stats = server.lakehouse.collect_stats(DEMO_TABLE, full=True)
    assert meta["file_count"] == stats.file_count
    assert meta["snapshot_count"] == stats.snapshot_count
    assert meta["dagster/row_count"] == stats.row_count == 2500
    # Passes unless a threshold is exceeded; definitions.py sets max_snapshots=20.
    assert evaluation.passed == (meta["violations"] == "none")
    assert evaluation.passed == (stats.snapshot_count <= 20 and stats.file_count < 5)
    if not evaluation.passed:
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
