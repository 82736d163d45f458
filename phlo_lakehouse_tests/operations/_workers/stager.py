"""A writer that stages an append and commits it only when told: its data files, manifest and
manifest list are written (by PyIceberg's own transaction) while nothing references them yet.

    python -m phlo_lakehouse_tests.operations._workers.stager \
        --settings '{"type": "sql", "uri": "sqlite:///…", "warehouse": "s3://…", ...}' \
        --table raw.events --ids 10000 10001 ...

It answers ``{"staged": true}`` once the append's files are written (the transaction is open),
then waits for a line on stdin: ``commit`` commits the transaction and answers
``{"committed": true, "snapshot_id": …}`` (or ``{"committed": false, "error": …}``).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from phlo_lakehouse_tests.operations._workers.appender import PROTOCOL_PREFIX


def _answer(payload: dict) -> None:
    sys.stdout.write(PROTOCOL_PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", required=True, help="CatalogSettings fields as JSON")
    parser.add_argument("--table", required=True)
    parser.add_argument("--ids", type=int, nargs="+", required=True)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    from phlo_lakehouse_tests.operations._workers import rows_for

    settings = CatalogSettings(**json.loads(args.settings))
    table = IcebergLakehouse(settings).catalog().load_table(args.table)
    transaction = table.transaction()
    transaction.append(rows_for(args.ids))  # writes data files + manifests, commits nothing
    _answer({"staged": True})
    if sys.stdin.readline().strip() != "commit":
        return 1
    try:
        committed = transaction.commit_transaction()
    except Exception as e:  # noqa: BLE001 - reported to the test, which decides
        _answer({"committed": False, "error": f"{type(e).__name__}: {e}"})
        return 1
    snapshot = committed.current_snapshot()
    _answer({"committed": True, "snapshot_id": snapshot.snapshot_id if snapshot else None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
