"""The main job through a real ``dagster dev`` (webserver + daemon + code server) on loopback.

A module fixture seeds a fragmented ``demo.events`` (25 commits, orphan files) in an embedded
lakehouse in a temp dir and starts ``scripts/dagster_dev.sh`` with that lakehouse home, a temp
DAGSTER_HOME (seeded with the repo's dagster.yaml: QueuedRunCoordinator, so the daemon runs the
launched runs) and the repo's workspace. The tests then drive it the way the UI does — GraphQL
``launchRun`` — and read the results back from the same Dagster instance.

Workspace: the server is started on a copy of the repo's ``workspace.yaml`` whose working
directory is made absolute (``test_repo_workspace_loads`` checks the repo's file itself loads).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import yaml

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.dagster.checks import CHECK_NAME
from phlo_lakehouse.definitions import MAIN_JOB
from phlo_lakehouse.demo import DEMO_TABLE, plant_orphans, seed_demo_table
from phlo_lakehouse.operations.files import list_storage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "dagster_dev.sh"
KEY = dg.AssetKey(DEMO_TABLE.split("."))
START_TIMEOUT = 240
RUN_TIMEOUT = 180
# The maintenance runs use the in_process executor (still webserver → queue → daemon → run
# launcher → run worker): the default forks a process per step, ~20-40 s more per run on 2 cores.
# The check run keeps the default executor.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
# Variables that would point LakehouseResource() away from the embedded home.
_CATALOG_ENV_PREFIXES = ("PHLO_LAKEHOUSE_", "NESSIE_", "MINIO_", "ICEBERG_")


@dataclass
class DagsterServer:
    url: str
    dagster_home: Path
    lakehouse: IcebergLakehouse
    orphans: list[str]
    http: requests.Session = field(default_factory=requests.Session)

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def selector(self, job: str) -> dict[str, str]:
        """{repositoryLocationName, repositoryName, jobName} of ``job`` as the server names it."""
        data = self.gql(REPOSITORIES)["repositoriesOrError"]
        assert data["__typename"] == "RepositoryConnection", data
        for repo in data["nodes"]:
            if job in {j["name"] for j in repo["jobs"]}:
                return {
                    "repositoryLocationName": repo["location"]["name"],
                    "repositoryName": repo["name"],
                    "jobName": job,
                }
        raise AssertionError(f"job {job} not in the workspace: {data}")

    def launch(self, selector: dict[str, Any], run_config: dict[str, Any]) -> str:
        data = self.gql(
            LAUNCH_RUN, {"params": {"selector": selector, "runConfigData": run_config}}
        )["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return data["run"]["runId"]

    def wait(self, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.gql(RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} still {status} after {timeout}s")

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.dagster_home))

    def run_to_success(self, selector: dict[str, Any], run_config: dict[str, Any]) -> str:
        run_id = self.launch(selector, run_config)
        status = self.wait(run_id)
        if status != "SUCCESS":
            with self.instance() as instance:
                errors = [
                    str(e.dagster_event.event_specific_data.error)
                    for e in instance.all_logs(run_id)
                    if e.dagster_event
                    and e.dagster_event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE")
                ]
            pytest.fail(f"run {run_id} ended {status}: {errors}")
        return run_id


REPOSITORIES = """{ repositoriesOrError { __typename
  ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
  ... on PythonError { message } } }"""
LAUNCH_RUN = """mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
    ... on Error { message } } }"""
RUN_STATUS = "query Status($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pinned_workspace(path: Path) -> Path:
    """The repo's workspace.yaml with `attribute: defs` and an absolute working directory."""
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    for entry in workspace["load_from"]:
        target = entry.get("python_module")
        if isinstance(target, dict):
            target.setdefault("attribute", "defs")
            target["working_directory"] = str(REPO_ROOT / target.get("working_directory", "."))
    path.write_text(yaml.safe_dump(workspace))
    return path


def _script(action: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterServer]:
    root = tmp_path_factory.mktemp("dagster-dev")
    port = int(os.environ.get("PHLO_TEST_DAGSTER_PORT") or _free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CATALOG_ENV_PREFIXES)}
    env.update(
        PHLO_LAKEHOUSE_HOME=str(root / "lakehouse"),
        DAGSTER_HOME=str(root / "dagster_home"),
        PHLO_SERVICES_DIR=str(root / "services"),
        PHLO_TEST_DAGSTER_PORT=str(port),
        PHLO_DAGSTER_WORKSPACE=str(_pinned_workspace(root / "workspace.yaml")),
        PHLO_START_TIMEOUT=str((START_TIMEOUT - 20) // 2),  # for /server_info, then the workspace
    )
    starting = subprocess.Popen(
        ["bash", str(SCRIPT), "start"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Seed while the server starts (the definitions do no I/O at load time).
        lakehouse = IcebergLakehouse(CatalogSettings.embedded(root / "lakehouse"))
        handle = seed_demo_table(lakehouse, DEMO_TABLE, commits=25, rows_per_commit=100)
        orphans = plant_orphans(handle, count=6)
        out, err = starting.communicate(timeout=START_TIMEOUT)
        if starting.returncode != 0:
            pytest.fail(f"scripts/dagster_dev.sh start failed ({starting.returncode}):\n{err}")
        assert out.strip() == f"http://127.0.0.1:{port}"
        yield DagsterServer(out.strip(), root / "dagster_home", lakehouse, orphans)
    finally:
        if starting.poll() is None:
            starting.kill()  # the start script only; the server is stopped by its process group
            starting.wait()
        stopped = _script("stop", env, timeout=90)
        assert stopped.returncode == 0, stopped.stderr


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
    dry = _observations(server, dry_id)
    assert set(dry) == {"optimize", "expire", "vacuum"}
    for kind, meta in dry.items():
        assert meta["lakehouse/dry_run"] is True and meta["lakehouse/committed"] is False, kind
        assert meta["before/file_count"] == meta["after/file_count"] == 100, kind
    assert dry["vacuum"]["lakehouse/orphan_files"] == len(server.orphans)

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
    assert real["vacuum"]["lakehouse/orphan_files"] == len(server.orphans)

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
