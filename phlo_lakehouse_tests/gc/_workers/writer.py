"""A writer in its own process: appends rows to a table on a branch, commit after commit, until a
stop file appears; then prints the ids it committed as JSON on stdout::

    python -m phlo_lakehouse_tests.gc._workers.writer --nessie URI --s3 ENDPOINT \
        --ref ingest --table gc.events --stop /tmp/stop [--rows 3]

Each append writes its data file and commits at once (well inside the GC's grace period), as a
streaming ingest job does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from phlo_lakehouse_tests.gc._workers import lakehouse_for
from phlo_lakehouse_tests.gc.histories import rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    for name in ("--nessie", "--s3", "--ref", "--table", "--stop", "--started"):
        parser.add_argument(name, required=True)
    parser.add_argument("--first-id", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=3)
    args = parser.parse_args(argv)
    table = lakehouse_for(args.nessie, args.s3).catalog(args.ref).load_table(args.table)
    committed: list[int] = []
    commit_times: list[float] = []
    next_id = args.first_id
    Path(args.started).write_text("started")
    while not Path(args.stop).exists():
        ids = list(range(next_id, next_id + args.rows))
        table.append(rows(ids))
        committed += ids
        commit_times.append(time.time())
        next_id += args.rows
        table = table.refresh()
    json.dump({"ids": committed, "commit_times": commit_times}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
