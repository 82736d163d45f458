"""Bad input to the Spark engine fails fast, with a one-line message and a hint, before anything
is changed: an unreachable Spark, and options Iceberg's Spark procedures cannot express.

No Spark is needed: the engine points at a port nothing listens on, so an option error proves
it was raised before Spark was contacted.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from phlo_lakehouse import CatalogUnavailable, InvalidConfig, InvalidInput
from phlo_lakehouse.demo import plant_orphans, seed_demo_table
from phlo_lakehouse.engines import AutoEngine, SparkEngine, SparkUnavailable, build_engine
from phlo_lakehouse.operations import (
    ExpireSnapshotsOperation,
    OptimizeOperation,
    RewriteManifestsOperation,
    VacuumOperation,
)
from phlo_lakehouse.storage.listing import list_storage
from phlo_lakehouse_tests.engines.conftest import free_port


@pytest.fixture
def table(lakehouse):
    """demo.events: 6 commits over 4 day partitions, 3 old orphans (work for every operation)."""
    handle = seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=20)
    plant_orphans(handle, count=3)
    return handle


@pytest.fixture
def unreachable(lakehouse) -> SparkEngine:
    return SparkEngine(lakehouse.settings, remote=f"sc://127.0.0.1:{free_port()}")


def state(lakehouse) -> tuple:
    """Everything an operation could change: the metadata and the files in storage."""
    handle = lakehouse.get_table("demo.events")
    files = sorted(f.path for f in list_storage(handle.table.io, handle.table.location()))
    return handle.table.metadata.model_dump_json(), files


def one_line_with_hint(error: Exception) -> bool:
    return "\n" not in str(error) and bool(error.hint) and f"(hint: {error.hint})" in str(error)


@pytest.mark.parametrize(
    "operation",
    [
        OptimizeOperation(min_input_files=2),
        ExpireSnapshotsOperation(older_than="0s"),
        VacuumOperation(older_than="3d"),
        RewriteManifestsOperation(),
    ],
    ids=lambda op: op.name,
)
def test_unreachable_spark_connect_fails_fast_and_changes_nothing(
    lakehouse, table, unreachable, operation
):
    before = state(lakehouse)
    started = time.monotonic()
    with pytest.raises(SparkUnavailable) as caught:
        lakehouse.run(operation, "demo.events", engine=unreachable)
    assert time.monotonic() - started < 3
    assert isinstance(caught.value, CatalogUnavailable)
    assert one_line_with_hint(caught.value)
    assert "cannot reach Spark Connect at sc://127.0.0.1:" in caught.value.message
    assert "spark_connect.sh start" in caught.value.hint
    assert state(lakehouse) == before


@pytest.mark.parametrize(
    ("operation", "words"),
    [
        (OptimizeOperation(files=["file:///x.parquet"]), "files="),
        (OptimizeOperation(stitch="always"), "stitch='always'"),
        (ExpireSnapshotsOperation(older_than="0s", delete_files=False), "delete_files=False"),
        (ExpireSnapshotsOperation(older_than="0s", now=datetime(2030, 1, 1, tzinfo=UTC)), "now="),
        (VacuumOperation(older_than="1h", force=True), "24 hours"),
        (
            RewriteManifestsOperation(target_manifest_size="1KB"),
            "commit.manifest.target-size-bytes",
        ),
    ],
    ids=[
        "optimize-files",
        "optimize-stitch",
        "expire-keep-files",
        "expire-now",
        "vacuum-force",
        "manifest-size",
    ],
)
def test_option_without_spark_equivalent_fails_before_spark_is_contacted(
    lakehouse, table, unreachable, operation, words
):
    before = state(lakehouse)
    with pytest.raises(InvalidInput) as caught:
        lakehouse.run(operation, "demo.events", engine=unreachable)
    assert not isinstance(caught.value, SparkUnavailable)
    assert words in caught.value.message and "local" in caught.value.hint
    assert one_line_with_hint(caught.value)
    assert state(lakehouse) == before


def test_vacuum_cutoff_under_24_hours_via_now_fails_before_spark(lakehouse, table, unreachable):
    op = VacuumOperation(older_than="3d", now=datetime.now(UTC) + timedelta(days=2, hours=12))
    with pytest.raises(InvalidInput, match="less than 24 hours"):
        lakehouse.run(op, "demo.events", engine=unreachable)


def test_optimize_of_a_table_branch_fails_before_spark(lakehouse, table, unreachable):
    table.table.manage_snapshots().create_branch(table.snapshot_id, "audit").commit()
    with pytest.raises(InvalidInput, match="only rewrites a table's main branch"):
        lakehouse.run(OptimizeOperation(), "demo.events", "audit", engine=unreachable)


def test_validate_rejects_unmappable_options_without_a_table():
    engine = SparkEngine(remote="sc://127.0.0.1:1")
    engine.validate(OptimizeOperation(strategy="zorder", zorder_by=["a"], partial_progress=True))
    with pytest.raises(InvalidInput, match="files="):
        engine.validate(OptimizeOperation(files=["x"]))
    with pytest.raises(InvalidInput, match="files="):  # auto: any table may grow past the line
        AutoEngine("1GB", engine).validate(OptimizeOperation(files=["x"]))


def test_a_new_operation_option_fails_loudly_until_it_is_mapped():
    op = OptimizeOperation()
    op.max_output_files = 3  # an option someone adds later
    with pytest.raises(InvalidInput, match="max_output_files have no Spark procedure mapping"):
        SparkEngine(remote="sc://127.0.0.1:1").validate(op)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"remote": "http://127.0.0.1:15002"}, "not a Spark Connect URL"),
        ({"remote": "sc://h:1", "session": object()}, "not both"),
        ({"remote": "sc://h:1", "connect_timeout": 0}, "positive"),
    ],
)
def test_malformed_engine_settings_fail_at_construction(kwargs, words):
    with pytest.raises(InvalidConfig, match=words):
        SparkEngine(**kwargs)


def test_build_engine_names():
    assert build_engine("local").name == "local"
    assert build_engine("spark", spark_remote="sc://127.0.0.1:1").name == "spark"
    assert (
        build_engine("auto", spark_remote="sc://127.0.0.1:1", auto_threshold="1MB").name == "auto"
    )
    with pytest.raises(InvalidConfig, match="engine 'gpu' is not known"):
        build_engine("gpu")


@pytest.mark.spark
def test_a_port_that_does_not_speak_spark_connect_fails_within_the_timeout(lakehouse, table):
    """Something listens but never answers gRPC: the client would retry for minutes."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    url = f"sc://127.0.0.1:{server.getsockname()[1]}"
    engine = SparkEngine(lakehouse.settings, remote=url, connect_timeout=1.5)
    before = state(lakehouse)
    started = time.monotonic()
    try:
        with pytest.raises(SparkUnavailable, match="does not speak Spark Connect") as caught:
            lakehouse.run(OptimizeOperation(min_input_files=2), "demo.events", engine=engine)
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    assert time.monotonic() - started < 5
    assert one_line_with_hint(caught.value)
    assert state(lakehouse) == before
