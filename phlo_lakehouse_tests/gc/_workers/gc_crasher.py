"""Runs one Nessie GC through the executor and SIGKILLs its own process at a chosen point, like a
machine dying; nothing is mocked, the GC runs for real up to there::

    python -m phlo_lakehouse_tests.gc._workers.gc_crasher --nessie URI --s3 ENDPOINT \
        --work-dir DIR --crash mark|sweep --nth N --now ISO --cutoffs '["2"]' --older-than 2

Crash points:
    mark   on the n-th manifest read of the mark phase (the live set half built)
    sweep  right after the n-th delete batch (batches of 3 files here, so the sweep is midway)

Exit status: killed by SIGKILL when the point was reached; 0 when the GC finished first (the test
then fails: the crash it meant to test did not happen).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from datetime import datetime

from phlo_lakehouse_tests.gc._workers import lakehouse_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    for name in ("--nessie", "--s3", "--work-dir", "--now", "--cutoffs"):
        parser.add_argument(name, required=True)
    parser.add_argument("--crash", choices=("mark", "sweep"), required=True)
    parser.add_argument("--nth", type=int, default=1)
    parser.add_argument("--older-than", type=float, default=2.0)
    args = parser.parse_args(argv)

    from phlo_lakehouse.gc import NessieGCOperation, mark, sweep

    calls = 0
    lock = threading.Lock()

    def hit() -> None:
        nonlocal calls
        with lock:
            calls += 1
            if calls == args.nth:
                os.kill(os.getpid(), signal.SIGKILL)

    if args.crash == "mark":
        read = mark.LiveSetBuilder._read_manifest

        def crashing_read(self, path):  # type: ignore[no-untyped-def]
            hit()
            return read(self, path)

        mark.LiveSetBuilder._read_manifest = crashing_read  # type: ignore[method-assign]
    else:
        sweep.DELETE_BATCH = 3
        delete = sweep._delete

        def crashing_delete(io, uris, threads):  # type: ignore[no-untyped-def]
            failed = delete(io, uris, threads)
            hit()
            return failed

        sweep._delete = crashing_delete  # type: ignore[assignment]
    operation = NessieGCOperation(
        cutoffs=json.loads(args.cutoffs),
        older_than=args.older_than,
        force=True,
        now=datetime.fromisoformat(args.now),
        work_dir=args.work_dir,
    )
    lakehouse_for(args.nessie, args.s3).run_catalog(operation, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
