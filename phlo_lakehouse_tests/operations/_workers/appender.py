"""Another writer: appends and deletes rows of a table from its own process, on command.

Started once per test and fed one JSON command per line on stdin, so the interpreter start-up is
paid once while every trial still races a genuinely separate process (own catalog connection, own
PyIceberg commit path and retries)::

    python -m phlo_lakehouse_tests.operations._workers.appender \
        --name CATALOG --uri postgresql+psycopg2://… --warehouse file:///…

A command is ``{"table": "raw.t1", "delay": 0.05, "steps": [{"kind": "append", "ids": [..],
"sleep": 0.01}, {"kind": "delete", "ids": [..], "sleep": 0.0}, ...]}``. The worker answers
``{"ack": true}`` at once, waits ``delay`` seconds, runs the steps (sleeping after each), then
answers ``{"results": [{"kind", "ids", "committed", "snapshot_id", "error", "unknown"}, ...]}``:
``committed`` is True only when PyIceberg reported the commit as landed, ``snapshot_id`` is then
the snapshot that commit made (None for a delete that matched no row). ``{"quit": true}`` ends
the worker.

Randomness lives in the test (it draws the command), so a failing trial is replayed by its seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

PROTOCOL_PREFIX = "@@"


def _answer(payload: dict[str, Any]) -> None:
    # A prefix keeps the protocol apart from anything a library prints to stdout.
    sys.stdout.write(PROTOCOL_PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


def _run_step(table: Any, step: dict[str, Any]) -> dict[str, Any]:
    from pyiceberg.exceptions import CommitStateUnknownException
    from pyiceberg.expressions import In

    from phlo_lakehouse_tests.operations._workers import rows_for

    ids = list(step["ids"])
    outcome: dict[str, Any] = {"kind": step["kind"], "ids": ids, "committed": False}
    try:
        table.refresh()
        before = table.current_snapshot()
        if step["kind"] == "append":
            table.append(rows_for(ids))
        else:
            table.delete(In("event_id", set(ids)))
        outcome["committed"] = True
        current = table.current_snapshot()
        made = current is not None and (before is None or current.snapshot_id != before.snapshot_id)
        outcome["snapshot_id"] = current.snapshot_id if made else None
    except CommitStateUnknownException as e:
        outcome["unknown"] = True
        outcome["error"] = f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - reported to the test, which decides
        outcome["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--warehouse", required=True)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    from phlo_lakehouse import CatalogSettings, IcebergLakehouse

    lakehouse = IcebergLakehouse(
        CatalogSettings(type="sql", name=args.name, uri=args.uri, warehouse=args.warehouse)
    )
    catalog = lakehouse.catalog()
    _answer({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command.get("quit"):
            break
        _answer({"ack": True})
        table = catalog.load_table(command["table"])
        time.sleep(command.get("delay", 0.0))
        results = []
        for step in command["steps"]:
            results.append(_run_step(table, step))
            time.sleep(step.get("sleep", 0.0))
        _answer({"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
