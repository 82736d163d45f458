"""Runs one table operation and SIGKILLs its own process at a chosen point, like a machine dying.

The crash is injected from the outside: before the operation runs, this process wraps one of
phlo_lakehouse's (or PyIceberg's FileIO's) functions so that the n-th call kills the process
before or after doing its work. Nothing is mocked: the operation runs for real up to that point
against the real embedded catalog and files::

    python -m phlo_lakehouse_tests.operations._workers.crasher --home DIR --table raw.events \
        --operation optimize --crash before_commit [--nth 1] \
        [--options '{"partial_progress": true}']

Crash points:
    finish_file    after the n-th data file a rewrite finishes (RollingDataFileWriter._finish_file)
    before_commit  on the n-th commit_updates call, before it runs (nothing committed)
    after_commit   right after the n-th commit_updates call returned (committed, no clean-up)
    metadata_written  inside the n-th commit, after the new metadata.json is written and before
                   the catalog points at it (PyIceberg's MetastoreCatalog._write_metadata)
    delete         right after the n-th file deletion (FileIO or a local unlink)

Exit status: killed by SIGKILL when the point was reached; 0 when the operation finished without
reaching it (the test then fails: the crash it meant to test did not happen).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

CRASH_POINTS = ("finish_file", "before_commit", "after_commit", "metadata_written", "delete")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _Counter:
    def __init__(self, nth: int) -> None:
        self.nth = nth
        self.calls = 0
        self.lock = threading.Lock()

    def hit(self) -> bool:
        with self.lock:
            self.calls += 1
            return self.calls == self.nth


def _wrap(original: Callable[..., Any], counter: _Counter, *, before: bool) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before and counter.hit():
            _die()
        result = original(*args, **kwargs)
        if not before and counter.hit():
            _die()
        return result

    return wrapper


class _OsWithCrashingUnlink:
    """``os`` as files.py sees it, with ``unlink`` wrapped."""

    def __init__(self, unlink: Callable[..., Any]) -> None:
        self.unlink = unlink

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def install(crash: str, nth: int) -> None:
    """Make the ``nth`` call at ``crash`` kill this process."""
    import pyiceberg.io.pyarrow as pyarrow_io
    from pyiceberg.catalog import MetastoreCatalog

    import phlo_lakehouse.operations.commit as commit
    import phlo_lakehouse.operations.expire as expire
    import phlo_lakehouse.operations.manifests as manifests
    import phlo_lakehouse.operations.replace as replace
    from phlo_lakehouse.operations.rewrite import RollingDataFileWriter

    counter = _Counter(nth)
    if crash == "finish_file":
        RollingDataFileWriter._finish_file = _wrap(  # noqa: SLF001
            RollingDataFileWriter._finish_file,  # noqa: SLF001
            counter,
            before=False,
        )
    elif crash in ("before_commit", "after_commit"):
        # Each operation module imported commit_updates by name: wrap every binding of it.
        wrapped = _wrap(commit.commit_updates, counter, before=crash == "before_commit")
        for module in (commit, replace, expire, manifests):
            module.commit_updates = wrapped
    elif crash == "metadata_written":
        MetastoreCatalog._write_metadata = staticmethod(  # noqa: SLF001
            _wrap(MetastoreCatalog._write_metadata, counter, before=False)  # noqa: SLF001
        )
    elif crash == "delete":
        # Local files are unlinked directly by storage.deletion; remote ones go through FileIO.
        from phlo_lakehouse.storage import deletion

        pyarrow_io.PyArrowFileIO.delete = _wrap(
            pyarrow_io.PyArrowFileIO.delete, counter, before=False
        )
        deletion.os = _OsWithCrashingUnlink(_wrap(os.unlink, counter, before=False))
    else:
        raise SystemExit(f"unknown crash point {crash!r}; use one of {CRASH_POINTS}")


def build_operation(name: str, options: dict[str, Any]) -> Any:
    from phlo_lakehouse.operations import (
        ExpireSnapshotsOperation,
        OptimizeOperation,
        RewriteManifestsOperation,
    )
    from phlo_lakehouse.operations.vacuum import VacuumOperation

    if "now" in options:
        options = {**options, "now": datetime.fromisoformat(options["now"])}
    kinds = {
        "optimize": OptimizeOperation,
        "expire": ExpireSnapshotsOperation,
        "vacuum": VacuumOperation,
        "rewrite_manifests": RewriteManifestsOperation,
    }
    return kinds[name](**options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="embedded lakehouse directory")
    parser.add_argument("--table", required=True)
    parser.add_argument("--ref", default=None)
    parser.add_argument(
        "--operation", required=True, choices=("optimize", "expire", "vacuum", "rewrite_manifests")
    )
    parser.add_argument("--options", default="{}", help="operation arguments as JSON")
    parser.add_argument("--crash", required=True, choices=CRASH_POINTS)
    parser.add_argument("--nth", type=int, default=1)
    args = parser.parse_args(argv)

    from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    from phlo_lakehouse.operations import OperationExecutor

    operation = build_operation(args.operation, json.loads(args.options))
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(args.home))
    install(args.crash, args.nth)
    result = OperationExecutor(lakehouse).run(operation, args.table, args.ref)
    print(json.dumps({"finished": True, "result": result.summary()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
