"""Must show 4: a GC SIGKILLed in the middle of its mark phase deletes nothing; one killed in the
middle of its sweep has deleted only files nothing live needs; a re-run finishes the job (exactly
the files the oracle says, the killed run's scratch store removed). The GC runs in a worker process
that kills itself at a deterministic point (``_workers/gc_crasher.py``), on the reference scenario.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from phlo_lakehouse.gc import NessieGCOperation
from phlo_lakehouse_tests.gc.histories import read_rows
from phlo_lakehouse_tests.gc.oracle import bucket_files, expected_deletions, expected_live
from phlo_lakehouse_tests.gc.scenario import CUTOFFS, build, policy_for

pytestmark = [pytest.mark.nessie, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(900)]
GRACE = 2


def _crash(gc_nessie, s3_endpoint, work_dir, now, point, nth):
    worker = subprocess.run(
        [
            sys.executable, "-m", "phlo_lakehouse_tests.gc._workers.gc_crasher",
            "--nessie", gc_nessie.uri, "--s3", s3_endpoint, "--work-dir", str(work_dir),
            "--now", now.isoformat(), "--cutoffs", json.dumps(list(CUTOFFS)),
            "--older-than", str(GRACE), "--crash", point, "--nth", str(nth),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert worker.returncode == -signal.SIGKILL, worker.stderr[-2000:]


def test_sigkill_mid_mark_and_mid_sweep_then_the_rerun_finishes(
    history, s3, gc_nessie, s3_endpoint, tmp_path
):
    build(history, s3, gc_nessie.bucket)
    lakehouse = history.lakehouse
    # One reference time for every run: the same files are old enough each time.
    now = datetime.now(UTC)
    delete_before = now - timedelta(seconds=GRACE)
    before = bucket_files(s3, gc_nessie.bucket)
    live, states = expected_live(lakehouse, policy_for, lakehouse.settings.properties)
    expected = expected_deletions(before, live, history.all_locations(), delete_before)
    assert len(expected) > 6, "the sweep must have several batches to be killed in"
    rows = {h: read_rows(lakehouse, ref, h, list(t)) for h, (ref, t) in states.items()}
    work_dir = tmp_path / "gc-work"

    _crash(gc_nessie, s3_endpoint, work_dir, now, "mark", nth=3)
    assert bucket_files(s3, gc_nessie.bucket) == before, "a GC killed while marking deletes nothing"

    _crash(gc_nessie, s3_endpoint, work_dir, now, "sweep", nth=2)
    partial = set(before) - set(bucket_files(s3, gc_nessie.bucket))
    assert partial and partial < expected, "killed midway: some, not all, candidates deleted"
    assert [p.name for p in work_dir.iterdir()], "the killed runs left their scratch stores"

    result = lakehouse.run_catalog(
        NessieGCOperation(
            cutoffs=CUTOFFS, older_than=GRACE, force=True, now=now, work_dir=str(work_dir)
        ),
        None,
    )
    after = bucket_files(s3, gc_nessie.bucket)
    assert set(before) - set(after) == expected
    assert result.figures["deleted"] == len(expected - partial)
    assert not list(work_dir.iterdir()), "the re-run removed the killed runs' stores"
    for commit_hash, (ref, tables) in states.items():
        assert read_rows(lakehouse, ref, commit_hash, list(tables)) == rows[commit_hash]
