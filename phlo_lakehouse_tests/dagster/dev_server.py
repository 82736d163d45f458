"""A real ``dagster dev`` (scripts/dagster_dev.sh) on loopback for the tests that drive it the
way a person does: over GraphQL (test_webserver.py) and in a browser (test_browser.py).

`running_server` seeds a fragmented ``demo.events`` (25 commits, 6 old orphan files) in an
embedded lakehouse under ``root`` while the server starts with that lakehouse home, a fresh
DAGSTER_HOME (seeded with the repo's dagster.yaml: QueuedRunCoordinator, so the daemon runs the
launched runs) and a copy of the repo's workspace whose working directory is absolute.
"""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import yaml

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import DEMO_TABLE, plant_orphans, seed_demo_table

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "dagster_dev.sh"
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


@contextmanager
def running_server(root: Path, port: int | None = None) -> Iterator[DagsterServer]:
    """``dagster dev`` on ``port`` (default: PHLO_TEST_DAGSTER_PORT, else a free one) over a
    seeded demo lakehouse in ``root``; stopped by its process group on exit."""
    port = port or int(os.environ.get("PHLO_TEST_DAGSTER_PORT") or _free_port())
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
