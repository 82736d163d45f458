"""Must show 1, Spark's side: after the GC on the reference scenario, every reference and every
commit inside a cutoff reads the same rows in Spark through Nessie's Iceberg REST endpoint (a REST
catalog per commit, ``<ref>@<hash>``) as before the GC."""

from __future__ import annotations

import pytest

from phlo_lakehouse.gc import NessieGCOperation
from phlo_lakehouse_tests.gc.histories import History, spark_rows
from phlo_lakehouse_tests.gc.oracle import bucket_files, expected_live, s3_client
from phlo_lakehouse_tests.gc.scenario import CUTOFFS, build, policy_for

pytestmark = [pytest.mark.spark, pytest.mark.nessie, pytest.mark.moto, pytest.mark.timeout(900)]


def test_spark_reads_every_live_commit_the_same_after_the_gc(spark, gc_nessie, s3_endpoint):
    s3 = s3_client(s3_endpoint)
    gc_nessie.reset()
    history = History(gc_nessie.lakehouse())
    build(history, s3, gc_nessie.bucket)
    lakehouse = history.lakehouse
    _, states = expected_live(lakehouse, policy_for, lakehouse.settings.properties)
    before = {h: spark_rows(spark, lakehouse, ref, h, list(t)) for h, (ref, t) in states.items()}
    files_before = bucket_files(s3, gc_nessie.bucket)

    result = lakehouse.run_catalog(
        NessieGCOperation(cutoffs=CUTOFFS, older_than=2, force=True), None
    )
    assert result.figures["deleted"] > 0
    assert len(bucket_files(s3, gc_nessie.bucket)) < len(files_before)
    for commit_hash, (ref, tables) in states.items():
        assert spark_rows(spark, lakehouse, ref, commit_hash, list(tables)) == before[commit_hash]
    refs = {r.name for r in lakehouse.nessie.list()}
    assert {"main", "dev", "etl", "exp", "v1", "v2"} <= refs
