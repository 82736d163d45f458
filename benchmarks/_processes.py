"""Measured runs of whole commands, the way users meet them: a fresh process per run, start-up
(interpreter, imports, catalog connection) and commit included.

`measured` starts the command, waits for it with ``os.wait4`` and returns its wall time, CPU time
(user + system of the process and its threads) and peak RSS, as the kernel counted them.
`cli_command` is ``phlo-lakehouse … --yes --format json`` for each benchmarked operation;
`floor_command` is the pure-pyarrow floor (``_floor.py``) as its own process.

Before the first measured run, `installed_bytecode` compiles phlo_lakehouse's modules (and the
floor's) to bytecode, as pip does when it installs a wheel: an editable install run with
``PYTHONDONTWRITEBYTECODE=1`` (set on some machines) would otherwise compile every module from
source in every fresh process, about 0.2-0.3 s of start-up no installed package pays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_COMPILED: list[bool] = []


def installed_bytecode() -> None:
    """Compile the package and the benchmark scripts to bytecode once (see the module docstring)."""
    if _COMPILED:
        return
    import compileall

    import phlo_lakehouse

    compileall.compile_dir(Path(phlo_lakehouse.__file__).parent, quiet=1)
    compileall.compile_dir(HERE, maxlevels=0, quiet=1)
    _COMPILED.append(True)


def measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``command`` once; ``{"seconds", "cpu_s", "peak_rss_mb", "stdout"}``. The child is
    reaped by ``wait4`` itself, which reports its own resource usage."""
    installed_bytecode()
    started = time.perf_counter()
    with open(os.devnull, "rb") as stdin:
        read_fd, write_fd = os.pipe()
        proc = subprocess.Popen(
            command, stdin=stdin, stdout=write_fd, stderr=subprocess.PIPE, env=env
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as out:
            stdout = out.read()
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{stderr[-4000:]}")
    return {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stdout": stdout,
    }


def cli_command(kind: str, home: Path, table: str, target: int) -> list[str]:
    """The user's command for ``kind`` on ``table`` of the embedded lakehouse at ``home``."""
    exe = str(Path(sys.executable).with_name("phlo-lakehouse"))
    base = [exe, "--home", str(home)]
    if kind == "optimize":
        return [*base, "optimize", table, "--target-file-size", str(target), "--yes", "--json"]
    if kind == "expire":
        # every snapshot is older than "now" (Spark's run uses now + 1 day): keep the last one
        return [
            *base,
            "expire",
            table,
            "--older-than",
            "0s",
            "--retain-last",
            "1",
            "--yes",
            "--json",
        ]
    return [*base, "vacuum", table, "--older-than", "3d", "--yes", "--json"]


def cli_figures(stdout: str) -> dict[str, Any]:
    """Figures and the interesting details of the CLI's JSON result."""
    [result] = json.loads(stdout)["results"]
    details = result.get("details", {})
    keep = ("rows_written", "commits", "stitched_groups")
    out = {**result["figures"], **{k: details[k] for k in keep if k in details}}
    if "files_written" in details:
        out["files_written"] = len(details["files_written"])
    return out


def floor_command(table_dir: str, out_dir: str, target: int) -> list[str]:
    return [sys.executable, str(HERE / "_floor.py"), table_dir, out_dir, "--target", str(target)]


#: iceberg-zamboni, in a virtualenv of its own (it is no dependency of ours), built on first use.
ZAMBONI_VERSION = "0.7.0"
ZAMBONI_VENV = HERE / ".work" / "zamboni-venv"


def zamboni_executable() -> str:
    """``zamboni`` from `ZAMBONI_VENV`, installing ``iceberg-zamboni`` there first if needed."""
    exe = ZAMBONI_VENV / "bin" / "zamboni"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ZAMBONI_VENV)], check=True)
        pip = str(ZAMBONI_VENV / "bin" / "pip")
        subprocess.run([pip, "install", "-q", f"iceberg-zamboni=={ZAMBONI_VERSION}"], check=True)
    return str(exe)


def zamboni_vacuum_command(home: Path, table: str) -> list[str]:
    """zamboni's orphan removal on ``table`` of the embedded lakehouse at ``home``; zamboni's
    local SQL catalog is named ``local`` (see `register_for_zamboni`)."""
    return [
        zamboni_executable(),
        "remove-orphans",
        table,
        "--local-warehouse",
        str(home),
        "--older-than-days",
        "3",
        "--yes",
    ]


def register_for_zamboni(catalog_db: Path, table: str) -> None:
    """Point zamboni's catalog name (``local``) at the same metadata as ours, in the same
    SQLite catalog (SQL catalogs keep their tables per catalog name)."""
    import sqlite3

    namespace, name = table.rsplit(".", 1)
    with sqlite3.connect(catalog_db, timeout=60) as db:
        row = db.execute(
            "SELECT metadata_location, previous_metadata_location FROM iceberg_tables "
            "WHERE catalog_name != 'local' AND table_namespace = ? AND table_name = ?",
            (namespace, name),
        ).fetchone()
        db.execute(
            "DELETE FROM iceberg_tables WHERE catalog_name = 'local' AND table_namespace = ? "
            "AND table_name = ?",
            (namespace, name),
        )
        db.execute(
            "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, "
            "metadata_location, previous_metadata_location) VALUES ('local', ?, ?, ?, ?)",
            (namespace, name, *row),
        )
        exists = db.execute(
            "SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = 'local' "
            "AND namespace = ?",
            (namespace,),
        ).fetchone()
        if not exists:
            db.execute(
                "INSERT INTO iceberg_namespace_properties (catalog_name, namespace, "
                "property_key, property_value) VALUES ('local', ?, 'exists', 'true')",
                (namespace,),
            )
