"""VacuumOperation on real catalogs (SQLite + local files, SQLite + S3 on moto, Nessie): orphan
ages, reachability over every snapshot, ref and metadata file, locations, dry runs, files that
become reachable between plan and execute, and prefix-mismatch handling."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse, InvalidDuration, InvalidInput
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.errors import OperationFailed
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.operations.vacuum import VacuumOperation, classify_listed_files
from phlo_lakehouse.storage.listing import list_storage
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES
from phlo_lakehouse_tests.operations.conftest import rows_of

TABLE = "raw.events"
FIGURES = ["files_listed", "orphan_files", "orphan_bytes", "prefix_mismatches"]
OLD = timedelta(days=10)


def _seed(lakehouse, commits=2):
    return seed_demo_table(lakehouse, TABLE, commits=commits, rows_per_commit=20)


def _run(lakehouse, op, ref=None, *, dry_run=False):
    return OperationExecutor(lakehouse).run(op, TABLE, ref, dry_run=dry_run)


def _local(uri: str) -> Path:
    return Path(urlparse(uri).path)


def _plant(handle, relative: str, *, age: timedelta | None = OLD, data: bytes = b"junk") -> str:
    """Write a file no metadata references under the table location; backdate it by ``age``."""
    uri = f"{handle.table.location()}/{relative}"
    path = _local(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age is not None:
        _backdate(path, age)
    return uri


def _parquet(rows) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(rows, sink)
    return sink.getvalue().to_pybytes()


def _backdate(path: Path, age: timedelta) -> None:
    moment = (datetime.now(UTC) - age).timestamp()
    os.utime(path, (moment, moment))


def _exists(uri: str) -> bool:
    return _local(uri).exists()


def _future() -> datetime:
    """A ``now`` so late that every file in storage is older than the default 3 days."""
    return datetime.now(UTC) + timedelta(days=30)


# -- ages -------------------------------------------------------------------------------------


def test_old_orphans_in_data_and_metadata_dirs_are_deleted(lakehouse):
    handle = _seed(lakehouse)
    planted = [
        _plant(handle, "data/orphan-1.parquet"),
        _plant(handle, "data/event_day=2026-01-01/orphan-2.parquet"),
        _plant(handle, "metadata/orphan-manifest.avro"),
        _plant(handle, "metadata/00099-orphan.metadata.json"),
    ]

    result = _run(lakehouse, VacuumOperation())

    assert result.details["orphan_files"] == sorted(planted)
    assert result.figures["orphan_files"] == 4
    assert result.figures["orphan_bytes"] == 4 * len(b"junk")
    assert not any(_exists(uri) for uri in planted)


def test_fresh_orphans_are_kept(lakehouse):
    handle = _seed(lakehouse)
    fresh = _plant(handle, "data/fresh.parquet", age=timedelta(hours=71))

    result = _run(lakehouse, VacuumOperation(older_than="3d"))

    assert result.figures["orphan_files"] == 0
    assert _exists(fresh)


def test_files_of_an_uncommitted_write_are_kept(lakehouse):
    handle = _seed(lakehouse)
    before = {f.path for f in list_storage(handle.table.io, handle.table.location())}
    with pytest.raises(RuntimeError), handle.table.transaction() as tx:
        tx.append(demo_rows(10_000, 10))
        raise RuntimeError("the writer stopped before its commit")
    uncommitted = {f.path for f in list_storage(handle.table.io, handle.table.location())} - before
    assert uncommitted, "the transaction's append wrote its data files before committing"
    # Nothing references them: with every file old enough they would count as orphans.
    late = _run(lakehouse, VacuumOperation(now=_future()), dry_run=True)
    assert uncommitted <= set(late.details["orphan_files"])

    result = _run(lakehouse, VacuumOperation())

    assert result.figures["orphan_files"] == 0
    assert all(_exists(uri) for uri in uncommitted)


def test_older_than_under_24_hours_is_refused_without_force():
    with pytest.raises(InvalidInput) as info:
        VacuumOperation(older_than="23h")
    assert "force=True" in info.value.hint
    assert "writer" in info.value.hint


def test_older_than_under_24_hours_is_allowed_with_force(lakehouse):
    handle = _seed(lakehouse)
    two_hours = _plant(handle, "data/two-hours.parquet", age=timedelta(hours=2))
    minutes = _plant(handle, "data/ten-minutes.parquet", age=timedelta(minutes=10))

    result = _run(lakehouse, VacuumOperation(older_than="1h", force=True))

    assert result.details["orphan_files"] == [two_hours]
    assert not _exists(two_hours)
    assert _exists(minutes)


# -- reachability -----------------------------------------------------------------------------


def test_every_reachable_file_survives_and_every_ref_reads_the_same_rows(lakehouse):
    handle = _seed(lakehouse, commits=3)
    table = handle.table
    first = table.snapshots()[0].snapshot_id
    table.manage_snapshots().create_tag(first, "v1").create_branch(
        handle.snapshot_id, "dev"
    ).commit()
    table.append(demo_rows(1_000, 10), branch="dev")
    table.delete("event_id < 5")  # copy-on-write: the old files stay reachable from old snapshots
    table.append(demo_rows(2_000, 10))
    refs = ["main", "dev", "v1"]
    rows_by_ref = {ref: rows_of(lakehouse.get_table(TABLE, ref=ref)) for ref in refs}
    rows_by_snapshot = {
        s.snapshot_id: table.scan(snapshot_id=s.snapshot_id).to_arrow().num_rows
        for s in table.snapshots()
    }
    reach = reachable_files(table)
    assert len(reach.manifest_lists) == len(rows_by_snapshot)
    assert len(table.metadata.metadata_log) >= 5
    planted = [_plant(handle, "data/orphan.parquet"), _plant(handle, "metadata/orphan.avro")]

    result = _run(lakehouse, VacuumOperation(now=_future()))

    assert result.plan.details["orphan_files"] == sorted(planted)
    assert result.details["orphan_files"] == sorted(planted)
    assert all(_exists(uri) for uri in reach.all())
    for ref in refs:
        assert rows_of(lakehouse.get_table(TABLE, ref=ref)) == rows_by_ref[ref]
    after = lakehouse.get_table(TABLE).table
    for snapshot_id, num_rows in rows_by_snapshot.items():
        assert after.scan(snapshot_id=snapshot_id).to_arrow().num_rows == num_rows


def test_plan_reads_the_metadata_after_listing_not_the_handle_it_was_given(lakehouse):
    stale = _seed(lakehouse)
    lakehouse.get_table(TABLE).table.append(demo_rows(1_000, 10))  # a commit the handle misses

    plan = VacuumOperation(now=_future()).plan(stale)

    assert plan.details["orphan_files"] == []
    assert plan.snapshot_id == lakehouse.get_table(TABLE).snapshot_id


def test_a_file_committed_between_plan_and_execute_is_not_deleted(lakehouse):
    handle = _seed(lakehouse)
    # One day of rows: add_files needs each file to hold a single partition.
    added = _plant(handle, "data/added-later.parquet", data=_parquet(demo_rows(5_000, 10, days=1)))
    other = _plant(handle, "data/orphan.parquet")
    op = VacuumOperation()
    # plan and execute are called directly so that a writer can commit in between.
    plan = op.plan(handle)
    assert plan.details["orphan_files"] == sorted([added, other])
    lakehouse.get_table(TABLE).table.add_files([added])

    result = op.execute(handle, plan)

    assert _exists(added)
    assert not _exists(other)
    assert result.details["orphan_files"] == [other]
    assert result.details["became_reachable"] == 1
    assert len(rows_of(lakehouse.get_table(TABLE))) == 40 + 10


# -- locations --------------------------------------------------------------------------------


def test_location_outside_the_table_is_refused_before_anything_is_deleted(lakehouse):
    handle = _seed(lakehouse)
    inside = _plant(handle, "data/orphan.parquet")
    warehouse = handle.table.location().rsplit("/", 2)[0]
    outside = _plant(handle, "../events_backup/orphan.parquet")

    with pytest.raises(InvalidInput) as info:
        _run(lakehouse, VacuumOperation(location=warehouse))

    assert "not inside" in info.value.message and info.value.hint
    assert _exists(inside) and _exists(outside)


def test_a_sibling_directory_sharing_the_name_prefix_is_outside(lakehouse):
    handle = _seed(lakehouse)
    sibling = _plant(handle, "../events_v2/data/orphan.parquet")

    with pytest.raises(InvalidInput):
        _run(lakehouse, VacuumOperation(location=handle.table.location() + "_v2"))
    _run(lakehouse, VacuumOperation())

    assert _exists(sibling)


def test_subdirectory_location_only_scans_that_subdirectory(lakehouse):
    handle = _seed(lakehouse)
    in_data = _plant(handle, "data/orphan.parquet")
    in_metadata = _plant(handle, "metadata/orphan.avro")
    data_dir = f"{handle.table.location()}/data"
    data_files = list_storage(handle.table.io, data_dir)

    result = _run(lakehouse, VacuumOperation(location=data_dir))

    assert result.figures["files_listed"] == len(data_files)
    assert result.details["orphan_files"] == [in_data]
    assert not _exists(in_data)
    assert _exists(in_metadata)


def test_location_is_compared_after_normalization(lakehouse):
    handle = _seed(lakehouse)
    orphan = _plant(handle, "data/orphan.parquet")
    plain_path = _local(handle.table.location()).as_posix() + "/data"  # no file:// scheme

    result = _run(lakehouse, VacuumOperation(location=plain_path))

    assert result.figures["orphan_files"] == 1
    assert not _exists(orphan)


# -- plans and results ------------------------------------------------------------------------


def test_dry_run_reports_exactly_the_files_the_real_run_deletes(lakehouse):
    handle = _seed(lakehouse)
    planted = [_plant(handle, f"data/orphan-{i}.parquet", data=b"x" * i) for i in range(1, 4)]
    _plant(handle, "data/fresh.parquet", age=None)

    preview = _run(lakehouse, VacuumOperation(), dry_run=True)
    assert preview.dry_run and all(_exists(uri) for uri in planted)
    result = _run(lakehouse, VacuumOperation())

    assert preview.details["orphan_files"] == result.details["orphan_files"] == sorted(planted)
    assert list(preview.figures) == list(result.figures) == FIGURES
    assert dict(preview.figures) == dict(result.figures)
    assert result.figures["orphan_bytes"] == 1 + 2 + 3
    assert not any(_exists(uri) for uri in planted)


def test_result_commits_nothing_and_reports_the_ref_head(lakehouse):
    handle = _seed(lakehouse)
    handle.table.manage_snapshots().create_branch(handle.snapshot_id, "dev").commit()
    handle.table.append(demo_rows(1_000, 5), branch="dev")
    dev_head = lakehouse.get_table(TABLE, ref="dev").snapshot_id
    metadata_location = lakehouse.get_table(TABLE).table.metadata_location
    _plant(handle, "data/orphan.parquet")

    result = _run(lakehouse, VacuumOperation(), ref="dev")

    assert not result.committed and not result.dry_run
    assert result.snapshot_id_before == result.snapshot_id_after == dev_head
    assert result.details["became_reachable"] == 0
    assert lakehouse.get_table(TABLE).table.metadata_location == metadata_location


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"older_than": "3 parsecs"}, InvalidDuration),
        ({"older_than": "-3d"}, InvalidDuration),
        ({"prefix_mismatch": "warn"}, InvalidInput),
        ({"location": "  "}, InvalidInput),
        ({"now": "2026-01-01"}, InvalidInput),
        ({"threads": 0}, InvalidInput),
    ],
)
def test_invalid_arguments_are_refused_at_construction(kwargs, error):
    with pytest.raises(error) as info:
        VacuumOperation(**kwargs)
    assert info.value.hint


# -- prefix mismatches (pure classifier) ------------------------------------------------------


def test_prefix_mismatch_error_mode_raises_with_count_example_and_modes():
    with pytest.raises(OperationFailed) as info:
        classify_listed_files(
            ["s3://b/t/x", "s3://b/t/y", "s3://b/t/orphan"],
            ["s3://a/t/x", "s3://a/t/y"],
            prefix_mismatch="error",
        )
    assert info.value.message.startswith("2 listed file(s)")
    assert "s3://b/t/x vs referenced s3://a/t/x" in info.value.message
    hint = info.value.hint
    assert "prefix_mismatch='ignore'" in hint and "prefix_mismatch='delete'" in hint


def test_prefix_mismatch_ignore_mode_keeps_the_mismatched_file():
    result = classify_listed_files(
        ["s3://b/t/x", "s3://b/t/orphan"], ["s3://a/t/x"], prefix_mismatch="ignore"
    )
    assert result.reachable == ("s3://b/t/x",)
    assert result.unreachable == ("s3://b/t/orphan",)
    assert result.prefix_mismatches == (("s3://b/t/x", "s3://a/t/x"),)


def test_prefix_mismatch_delete_mode_treats_the_mismatched_file_as_an_orphan():
    result = classify_listed_files(
        ["s3://b/t/x", "s3://b/t/orphan"], ["s3://a/t/x"], prefix_mismatch="delete"
    )
    assert result.reachable == ()
    assert result.unreachable == ("s3://b/t/orphan", "s3://b/t/x")
    assert len(result.prefix_mismatches) == 1


def test_equivalent_schemes_are_not_a_prefix_mismatch():
    result = classify_listed_files(
        ["s3a://a/t/x", "s3n://a/t/y", "file:///w/t/z", "file:/w/t/u"],
        ["s3://a/t/x", "s3://a/t/y", "/w/t/z", "file:///w/t/u"],
        prefix_mismatch="error",
    )
    assert len(result.reachable) == 4
    assert result.unreachable == result.prefix_mismatches == ()


# -- other catalogs ---------------------------------------------------------------------------


@pytest.mark.moto
def test_s3_vacuum_deletes_only_the_orphan_object(s3_endpoint, tmp_path, unique_name):
    import boto3

    settings = CatalogSettings(
        type="sql",
        uri=f"sqlite:///{tmp_path}/catalog.db",
        warehouse=f"s3://warehouse/{unique_name}",
        properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint},
    )
    lakehouse = IcebergLakehouse(settings)
    handle = _seed(lakehouse)
    rows = rows_of(handle)
    reachable = reachable_files(handle.table).all()
    location = handle.table.location()
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    table_key = location.removeprefix("s3://warehouse/")
    orphan_key = f"{table_key}/data/orphan.parquet"
    sibling_key = f"{table_key}_v2/data/not-ours.parquet"
    for key in (orphan_key, sibling_key):
        s3.put_object(Bucket="warehouse", Key=key, Body=b"junk")
    # moto stamps objects with the current time: a later `now` makes them old.
    result = _run(lakehouse, VacuumOperation(now=_future()))

    assert result.details["orphan_files"] == [f"s3://warehouse/{orphan_key}"]
    remaining = {
        f"s3://warehouse/{o['Key']}"
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="warehouse", Prefix=f"{unique_name}/"
        )
        for o in page.get("Contents", [])
        # pyarrow leaves an empty "dir/" marker when it deletes a directory's last object.
        if not o["Key"].endswith("/")
    }
    assert remaining == reachable | {f"s3://warehouse/{sibling_key}"}
    assert rows_of(lakehouse.get_table(TABLE)) == rows


@pytest.mark.nessie
def test_nessie_tables_are_refused(nessie_lakehouse, unique_name):
    name = f"{unique_name}.events"
    seed_demo_table(nessie_lakehouse, name, commits=1, rows_per_commit=5)

    with pytest.raises(InvalidInput) as info:
        OperationExecutor(nessie_lakehouse).run(VacuumOperation(), name, dry_run=True)

    assert "Nessie GC" in info.value.hint


def test_hidden_files_are_skipped_like_spark_except_stale_checksums(lakehouse):
    handle = _seed(lakehouse)
    live = sorted(reachable_files(handle.table).content)[0]
    live_name = live.rsplit("/", 1)[1]
    live_dir = live.rsplit("/", 1)[0].removeprefix(handle.table.location() + "/")
    kept_crc = _plant(handle, f"{live_dir}/.{live_name}.crc")
    stale_crc = _plant(handle, f"{live_dir}/.gone-00000.parquet.crc")
    hidden = _plant(handle, "data/_temporary/part-0.parquet")
    result = _run(lakehouse, VacuumOperation())
    assert result.details["orphan_files"] == [stale_crc]
    assert _exists(kept_crc) and _exists(hidden) and not _exists(stale_crc)


def test_a_hidden_directory_above_the_table_location_does_not_hide_its_files(tmp_path):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / ".lakehouse"))
    handle = seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=20)
    orphan = _plant(handle, "data/orphan-in-hidden-home.parquet")
    result = _run(lakehouse, VacuumOperation())
    assert result.details["orphan_files"] == [orphan]
    assert not _exists(orphan)
