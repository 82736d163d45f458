"""Measured runs of whole commands, the way users meet them: a fresh process per run, start-up
(interpreter, imports, catalog connection) and commit included.

`measured` starts the command, waits for it with ``os.wait4`` and returns its wall time, CPU time
(user + system of the process and its threads) and peak RSS, as the kernel counted them.
`cli_command` is ``phlo-lakehouse … --yes --format json`` for each benchmarked operation;
`floor_command` is the pure-pyarrow floor (``_floor.py``) as its own process.
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


def measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``command`` once; ``{"seconds", "cpu_s", "peak_rss_mb", "stdout"}``. The child is
    reaped by ``wait4`` itself, which reports its own resource usage."""
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
