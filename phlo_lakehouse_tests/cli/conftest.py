"""Helpers for the CLI tests: on-disk state of a table, installed scripts, pseudo-terminals."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from phlo_lakehouse import IcebergLakehouse
from phlo_lakehouse.testing.cli import settings_env

#: Every command and group ``phlo-lakehouse --help`` lists.
TOP_LEVEL_COMMANDS = (
    "tables",
    "optimize",
    "expire",
    "vacuum",
    "manifests",
    "snapshots",
    "schema",
    "refs",
    "demo",
    "access",
    "deletes",
    "gc",
    "migrate",
    "retention",
    "statistics",
)


@dataclass(frozen=True)
class TableState:
    """What a preview must leave untouched: the metadata pointer and every file with its size
    and modification time."""

    metadata_location: str
    files: dict[str, tuple[int, int]]


def table_state(lakehouse: IcebergLakehouse, name: str) -> TableState:
    handle = lakehouse.get_table(name)
    root = Path(urlparse(handle.table.location()).path)
    files = {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }
    return TableState(handle.table.metadata_location, files)


def script(name: str) -> str:
    """The installed console script ``name`` next to this interpreter."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `pip install -e .` (it declares the script)")
    return str(path)


def cli_env(lakehouse: IcebergLakehouse, **extra: str) -> dict[str, str]:
    """os.environ pointed at ``lakehouse`` the way a user would: PHLO_LAKEHOUSE_* variables."""
    env = dict(os.environ)
    for name, value in settings_env(lakehouse.settings).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env.update(extra)
    return env


@dataclass
class TerminalRun:
    returncode: int
    terminal: str
    stdout: str | None


def run_in_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    answers: dict[str, str] | None = None,
    stdout_pipe: bool = False,
    stderr_pipe: bool = False,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> TerminalRun:
    """Run ``args`` with stdin (and stdout/stderr unless piped) on a real pseudo-terminal.

    Args:
        answers: prompt text -> what to type once that text appears on the terminal.
        stdout_pipe / stderr_pipe: capture stdout through a pipe / send stderr to /dev/null.
        cwd: the working directory.

    Returns:
        The exit code, everything written to the terminal, and stdout when piped.
    """
    master, slave = os.openpty()
    process = subprocess.Popen(
        args,
        stdin=slave,
        stdout=subprocess.PIPE if stdout_pipe else slave,
        stderr=subprocess.DEVNULL if stderr_pipe else slave,
        env={**env, "COLUMNS": "120", "TERM": "xterm"},
        close_fds=True,
        start_new_session=True,
        cwd=cwd,
    )
    os.close(slave)
    captured: list[bytes] = []
    reader = None
    if stdout_pipe:
        reader = threading.Thread(target=lambda: captured.append(process.stdout.read()))
        reader.start()
    pending = dict(answers or {})
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer has exited
                break
            if not data:
                break
            chunks.append(data)
            seen = b"".join(chunks).decode(errors="replace")
            for prompt in [p for p in pending if p in seen]:
                os.write(master, pending.pop(prompt).encode())
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
        if reader is not None:
            reader.join()
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    stdout_data = captured[0] if captured else None
    return TerminalRun(
        process.returncode,
        b"".join(chunks).decode(errors="replace"),
        stdout_data.decode() if stdout_data is not None else None,
    )
