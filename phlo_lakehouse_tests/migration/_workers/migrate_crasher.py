"""Runs a Hive migration and SIGKILLs its own process at a chosen point, like a machine dying.

The crash is injected from the outside: before the run, this process wraps one of the
migration's own functions so that its ``nth`` call kills the process right after it returned.
Everything up to that point runs for real against the real metastore and files::

    python -m phlo_lakehouse_tests.migration._workers.migrate_crasher \\
        --metastore thrift://127.0.0.1:21083 --selector 'db.*' --mode migrate \\
        --crash after_backup [--nth 2] [--home DIR]

Crash points:
    after_stage    the staging table is committed (not validated, not published)
    after_backup   migrate mode: the Hive table was renamed to its backup, the Iceberg table is
                   not yet published under the name

Targets: the Hive catalog on the metastore, or (``--home``) an embedded SQLite lakehouse.
Exit status: killed by SIGKILL when the point was reached; 0 when the run finished first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

CRASH_POINTS = ("after_stage", "after_backup")


def _after_nth(original: Callable[..., Any], nth: int) -> Callable[..., Any]:
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapper


def install(crash: str, nth: int) -> None:
    """Make the ``nth`` call at ``crash`` kill this process once it returned."""
    import phlo_lakehouse.migration.hive as hive
    from phlo_lakehouse.migration.external import ExternalTableMigration

    if crash == "after_stage":
        ExternalTableMigration._stage = _after_nth(ExternalTableMigration._stage, nth)  # noqa: SLF001
    elif crash == "after_backup":
        hive._rename_table = _after_nth(hive._rename_table, nth)  # noqa: SLF001
    else:
        raise SystemExit(f"unknown crash point {crash!r}; use one of {CRASH_POINTS}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metastore", required=True)
    parser.add_argument("--selector", required=True)
    parser.add_argument("--mode", choices=("snapshot", "migrate"), required=True)
    parser.add_argument("--crash", choices=CRASH_POINTS, required=True)
    parser.add_argument("--nth", type=int, default=1)
    parser.add_argument("--home", default=None, help="embedded SQLite target (else the Hive one)")
    args = parser.parse_args(argv)

    from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    from phlo_lakehouse.migration import HiveMigration

    if args.home:
        settings = CatalogSettings.embedded(args.home)
    else:
        settings = CatalogSettings(type="hive", name="hive", uri=args.metastore)
    migration = HiveMigration(
        IcebergLakehouse(settings), metastore_uri=args.metastore, mode=args.mode
    )
    install(args.crash, args.nth)
    summary = migration.run([args.selector])
    print(json.dumps({"finished": True, "summary": summary.summary()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
