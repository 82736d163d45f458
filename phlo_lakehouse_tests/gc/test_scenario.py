"""Must show 1 on the real Nessie with S3 on moto: the GC deletes exactly the files no commit
inside the cutoffs needs and older than the grace period, nothing else, and every reference and
every commit inside a cutoff reads the same rows afterwards (Spark: integration/)."""

from __future__ import annotations

from datetime import datetime

import pytest

from phlo_lakehouse.gc import NessieGCOperation
from phlo_lakehouse_tests.gc.histories import read_rows
from phlo_lakehouse_tests.gc.oracle import bucket_files, expected_deletions, expected_live
from phlo_lakehouse_tests.gc.scenario import CUTOFFS, build, plant_young, policy_for

pytestmark = [pytest.mark.nessie, pytest.mark.moto, pytest.mark.timeout(600)]


def test_gc_deletes_exactly_the_unreachable_old_files(history, s3, gc_nessie):
    scenario = build(history, s3, gc_nessie.bucket)
    lakehouse = history.lakehouse
    before = bucket_files(s3, gc_nessie.bucket)
    live, states = expected_live(lakehouse, policy_for, lakehouse.settings.properties)
    rows_before = {h: read_rows(lakehouse, ref, h, list(t)) for h, (ref, t) in states.items()}

    plant_young(scenario, s3)
    before = bucket_files(s3, gc_nessie.bucket)
    result = lakehouse.run_catalog(
        NessieGCOperation(cutoffs=CUTOFFS, older_than=2, force=True), None
    )
    delete_before = datetime.fromisoformat(result.details["delete_before"])

    after = bucket_files(s3, gc_nessie.bucket)
    deleted = set(before) - set(after)
    expected = expected_deletions(before, live, history.all_locations(), delete_before)
    assert deleted == expected
    assert result.figures["deleted"] == len(expected) and not result.details["delete_failures"]
    assert result.operation == "nessie_gc" and not result.committed and not result.dry_run
    # What the scenario plants lands where it must.
    assert set(scenario.old_orphans) <= deleted
    assert not deleted & set(scenario.young_orphans + scenario.hidden_orphans + scenario.outside)
    temp = history.locations["temp"][0]
    assert not any(uri.startswith(temp + "/") for uri in after), "dropped everywhere: swept"
    users = history.locations["users"][0]
    assert any(uri.startswith(users + "/data/") for uri in after), "alive on branches: kept"
    assert any(uri.endswith(".metadata.json") for uri in deleted), "superseded metadata swept"
    # Each live metadata file and manifest was read once, however many commits share it.
    locations = {loc for _, tables in states.values() for loc in tables.values()}
    manifests = {f for f in live if f.endswith(".avro") and "/snap-" not in f}
    assert result.figures["metadata_files"] == result.figures["live_contents"] == len(locations)
    assert result.figures["manifests_read"] == len(manifests)
    # Every reference head and every commit inside a cutoff reads the same rows.
    for commit_hash, (ref, tables) in states.items():
        assert read_rows(lakehouse, ref, commit_hash, list(tables)) == rows_before[commit_hash]
