"""Must show 3: a writer committing on a branch while the GC runs keeps all its files, and the
branch reads every row it committed afterwards (real Nessie, S3 on moto, the writer in its own
process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from phlo_lakehouse.gc import NessieGCOperation
from phlo_lakehouse_tests.gc.oracle import bucket_files, files_of, put

pytestmark = [pytest.mark.nessie, pytest.mark.moto, pytest.mark.timeout(600)]

GRACE_SECONDS = 3


def _wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_a_writer_committing_during_the_gc_keeps_its_files_and_rows(
    history, s3, gc_nessie, s3_endpoint, tmp_path
):
    h = history
    location = h.create("main", "events", batches=3)
    h.branch("ingest", "main")
    h.append("ingest", "events", 2)
    orphans = [f"{location}/data/orphan-{i}.parquet" for i in range(3)]
    for uri in orphans:
        put(s3, uri)
    base_ids = list(range(h.next_id))
    time.sleep(GRACE_SECONDS + 1.5)  # the history so far is older than the grace period

    stop, started = tmp_path / "stop", tmp_path / "started"
    writer = subprocess.Popen(
        [
            sys.executable, "-m", "phlo_lakehouse_tests.gc._workers.writer",
            "--nessie", gc_nessie.uri, "--s3", s3_endpoint, "--ref", "ingest",
            "--table", "gc.events", "--stop", str(stop), "--started", str(started),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        _wait_for(started)
        time.sleep(1.0)  # a few commits before the GC starts
        gc_started = time.time()
        # Cutoff 1 everywhere: only each head as walked is live, the most a writer can be raced.
        result = h.lakehouse.run_catalog(
            NessieGCOperation(cutoffs=["1"], older_than=GRACE_SECONDS, force=True), None
        )
        gc_finished = time.time()
        time.sleep(1.0)
    finally:
        stop.write_text("stop")
        out, _ = writer.communicate(timeout=120)
    assert writer.returncode == 0
    written = json.loads(out)
    during = [t for t in written["commit_times"] if gc_started <= t <= gc_finished]
    assert len(during) >= 2, "the writer must commit while the GC runs"
    assert result.figures["deleted"] > 0 and not result.details["delete_failures"]

    remaining = set(bucket_files(s3, gc_nessie.bucket))
    assert not set(orphans) & remaining
    head = h.lakehouse.catalog("ingest").load_table("gc.events")
    assert files_of(head.metadata_location, h.lakehouse.settings.properties) <= remaining
    ids = head.scan().to_arrow().column("id").to_pylist()
    assert sorted(ids) == sorted(base_ids + written["ids"])
    main_ids = h.lakehouse.catalog("main").load_table("gc.events").scan().to_arrow()
    assert sorted(main_ids.column("id").to_pylist()) == list(range(9))
