"""The GC's on-disk store: exact classification against the live set, candidates, stale runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from phlo_lakehouse.gc.store import LiveSetStore, remove_stale


def _store(tmp_path):
    return LiveSetStore.create(tmp_path / "work")


def test_listed_files_outside_the_live_set_and_old_are_candidates(tmp_path):
    store = _store(tmp_path)
    store.add_live(["s3://b/t/data/live.parquet", "s3a://b/t/metadata/v1.metadata.json"])
    store.add_live(["s3://b/t/data/live.parquet"])  # duplicates are fine
    store.add_listed(
        [
            ("s3://b/t/data/live.parquet", 10, 100),
            ("s3://b/t/metadata/v1.metadata.json", 20, 100),  # s3a == s3
            ("s3://b/t/data/old-orphan.parquet", 30, 100),
            ("s3://b/t/data/young-orphan.parquet", 40, 500),
        ]
    )
    figures = store.classify(cutoff_ns=200)
    assert figures == {"unreachable": 2, "young": 1, "prefix_mismatches": 0}
    assert [r for rows in store.candidates() for r in rows] == [
        ("s3://b/t/data/old-orphan.parquet", 30, 100)
    ]
    assert store.live_count() == 2 and store.candidate_totals() == (1, 30)
    store.close()
    assert not store.directory.exists()


def test_a_path_live_under_another_bucket_is_a_prefix_mismatch(tmp_path):
    store = _store(tmp_path)
    store.add_live(["s3://other/t/data/a.parquet"])
    store.add_listed([("s3://b/t/data/a.parquet", 1, 1), ("s3://b/t/data/c.parquet", 1, 1)])
    assert store.classify(cutoff_ns=10)["prefix_mismatches"] == 1
    assert store.prefix_mismatches() == [("s3://b/t/data/a.parquet", "s3://other/t/data/a.parquet")]
    assert store.drop_prefix_mismatches() == 1
    assert store.candidate_totals() == (1, 1)
    store.close()


def test_candidates_that_became_live_are_dropped_and_metadata_json_goes_last(tmp_path):
    store = _store(tmp_path)
    store.add_candidates(
        [
            ("s3://b/t/metadata/00001.metadata.json", 1, 1),
            ("s3://b/t/data/z.parquet", 1, 1),
            ("s3://b/t/data/a.parquet", 1, 1),
        ]
    )
    assert [r[0] for rows in store.candidates() for r in rows] == [
        "s3://b/t/data/a.parquet",
        "s3://b/t/data/z.parquet",
        "s3://b/t/metadata/00001.metadata.json",
    ]
    store.add_live(["s3://b/t/data/z.parquet"])
    assert store.drop_live_candidates() == 1
    assert store.candidate_totals()[0] == 2
    store.close()


def test_each_file_is_read_once_and_contents_turn_live_once(tmp_path):
    store = _store(tmp_path)
    assert store.first_read("s3://b/m.avro") and not store.first_read("s3://b/m.avro")
    assert store.add_content("s3://b/t/m1.json", "id-1", "ns.t", 1, live=False)
    assert store.add_content("s3://b/t/m1.json", "id-1", "ns.t", 1, live=True)
    assert not store.add_content("s3://b/t/m1.json", "id-1", "ns.t", 1, live=True)
    assert store.live_metadata() == ["s3://b/t/m1.json"]
    store.add_content("s3://b/u/m1.json", "id-2", "ns.u", 1, live=False)
    assert store.expired_contents() == {"id-2": ["s3://b/u/m1.json"]}
    store.close()


def test_stale_stores_of_killed_runs_are_removed_but_not_running_ones(tmp_path):
    work = tmp_path / "work"
    running = LiveSetStore.create(work)
    code = (
        "import sys, time; from phlo_lakehouse.gc.store import LiveSetStore; "
        f"s = LiveSetStore.create({str(work)!r}); print(s.directory, flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    killed_dir = child.stdout.readline().strip()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    removed = remove_stale(work)
    assert [str(p) for p in removed] == [killed_dir]
    assert running.directory.exists()
    running.close()
