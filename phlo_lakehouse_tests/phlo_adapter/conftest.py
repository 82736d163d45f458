"""Helpers for the Phlo adapter tests: the real ``phlo`` executable in a throw-away project.

Every module here needs the ``phlo`` package (the ``phlo`` extra): without it the module is
skipped outside CI and fails under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from phlo_lakehouse import IcebergLakehouse

# Importing phlo sets up its logging, which writes .phlo/logs/ in the working directory unless
# told not to.
os.environ.setdefault("PHLO_LOG_FILE_TEMPLATE", "")

from phlo_lakehouse_tests.cli.conftest import cli_env, script
from phlo_lakehouse_tests.conftest import missing_service


def require_phlo() -> None:
    """Skip the calling module (fail it under CI=true) when phlo is not installed."""
    try:
        import phlo  # noqa: F401
    except ImportError:
        missing_service("phlo is not installed: `pip install -e '.[phlo]'`", module=True)


@dataclass
class PhloProject:
    """A Phlo project directory whose ``phlo`` runs against ``lakehouse``.

    The journal (``PHLO_OPERATIONS_JOURNAL_DIR``) and telemetry file (``PHLO_TELEMETRY_PATH``)
    live in the project; ``only_ours`` restricts Phlo's plugins to ours (PLUGINS_WHITELIST).
    """

    root: Path
    lakehouse: IcebergLakehouse
    only_ours: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def journal_dir(self) -> Path:
        return self.root / "journal"

    @property
    def telemetry_path(self) -> Path:
        return self.root / "telemetry" / "events.jsonl"

    def env(self, **extra: str) -> dict[str, str]:
        env = cli_env(
            self.lakehouse,
            PHLO_LOG_FILE_TEMPLATE="",
            PHLO_OPERATIONS_JOURNAL_DIR=str(self.journal_dir),
            PHLO_TELEMETRY_PATH=str(self.telemetry_path),
            PLUGINS_ENABLED="true",
        )
        for name in ("PHLO_DEFAULT_CAPABILITIES", "PHLO_REGULATED", "PHLO_AUTHORIZATION_BACKEND"):
            env.pop(name, None)
        env.update(self.extra_env)
        if self.only_ours:
            env["PLUGINS_WHITELIST"] = '["lakehouse"]'
            env["PLUGINS_BLACKLIST"] = "[]"
        env.update(extra)
        return env

    def phlo(
        self, *args: str, faketime: str | None = None, **env: str
    ) -> subprocess.CompletedProcess:
        """Run the installed ``phlo`` in the project (``faketime``: e.g. "+8d", via libfaketime)."""
        command = [script("phlo"), *args]
        if faketime is not None:
            tool = shutil.which("faketime")
            if tool is None:
                missing_service("faketime is not installed (Debian package faketime)")
            command = [tool, "-f", faketime, *command]
        self.root.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=self.env(**env),
            cwd=self.root,
            timeout=300,
        )

    def plan(
        self, operation: str, table: str, ref: str = "main", **kwargs: Any
    ) -> tuple[subprocess.CompletedProcess, dict[str, Any], Path]:
        """``phlo operations maintenance plan`` saved with ``--format json``."""
        done = self.phlo(
            "operations",
            "maintenance",
            "plan",
            "--operation",
            operation,
            "--table",
            table,
            "--ref",
            ref,
            "--format",
            "json",
            **kwargs,
        )
        path = self.root / f"plan-{operation}-{table}-{ref}.json"
        path.write_text(done.stdout)
        return done, _json(done), path

    def apply(
        self, plan_file: Path, token: str | None = None, **kwargs: Any
    ) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
        """``phlo operations maintenance apply`` with the plan's own token (or ``token``)."""
        if token is None:
            token = json.loads(plan_file.read_text())["plan_token"]
        done = self.phlo(
            "operations",
            "maintenance",
            "apply",
            "--plan",
            str(plan_file),
            "--confirmation-token",
            token,
            "--format",
            "json",
            **kwargs,
        )
        return done, _json(done)

    def journal(self, operation_id: str) -> dict[str, Any]:
        """The journal record Phlo wrote for ``operation_id``."""
        from phlo.operations.journal_store import FileOperationJournalStore

        entry = FileOperationJournalStore(self.journal_dir).read(operation_id)
        assert entry is not None, f"no journal record for {operation_id}"
        return entry.to_dict()

    def telemetry(self) -> list[dict[str, Any]]:
        """Every event in Phlo's telemetry file."""
        if not self.telemetry_path.exists():
            return []
        return [json.loads(line) for line in self.telemetry_path.read_text().splitlines() if line]


def with_faketime(command: list[str], offset: str | None) -> list[str]:
    """``command`` run with its clock moved by ``offset`` (e.g. "+8d") through libfaketime."""
    if offset is None:
        return command
    tool = shutil.which("faketime")
    if tool is None:
        missing_service("faketime is not installed (Debian package faketime)")
    return [str(tool), "-f", offset, *command]


def environment(*, drop: tuple[str, ...] = (), **values: str) -> dict[str, str]:
    """os.environ without the variables starting with ``drop``, plus ``values`` (Phlo's
    logging kept out of the working directory)."""
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        if drop
        else dict(os.environ)
    )
    env.update(PHLO_LOG_FILE_TEMPLATE="", **values)
    return env


def run_python(
    code: str, *args: str, cwd: Path, env: dict[str, str] | None = None, faketime: str | None = None
) -> Any:
    """Run ``code`` in a fresh interpreter (Phlo's registries are process-global) and return the
    JSON its last line printed; fails the test when it exits non-zero."""
    done = subprocess.run(
        with_faketime([sys.executable, "-c", code, *args], faketime),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _json(done: subprocess.CompletedProcess) -> dict[str, Any]:
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"phlo printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        ) from None


def sorted_rows(lakehouse: IcebergLakehouse, name: str, ref: str | None = None) -> list[tuple]:
    """Every row of ``name`` at ``ref``, read by PyIceberg, sorted."""
    table = lakehouse.get_table(name, ref)
    arrow = table.to_arrow()
    return sorted(zip(*(arrow.column(c).to_pylist() for c in arrow.column_names), strict=True))


def data_file_count(lakehouse: IcebergLakehouse, name: str, ref: str | None = None) -> int:
    """Live data files of ``name`` at ``ref``, counted by PyIceberg's planner."""
    return len(list(lakehouse.get_table(name, ref).scan().plan_files()))


@pytest.fixture
def project(tmp_path: Path) -> PhloProject:
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.demo import seed_demo_table

    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lakehouse"))
    seed_demo_table(lakehouse, "demo.events", commits=12, rows_per_commit=100)
    os.makedirs(tmp_path / "project", exist_ok=True)
    return PhloProject(tmp_path / "project", lakehouse)
