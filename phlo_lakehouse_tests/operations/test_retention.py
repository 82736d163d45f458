"""DataRetentionOperation on a real SQLite catalog: exactly the old rows go (oracle: pyarrow's
filter on the rows read before), whole files and partitions dropped without being read where
metadata proves every row old, boundary files rewritten, appends landing between plan and commit
kept, dry run == real run, bad input refused before anything is written."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.errors import InvalidDuration, InvalidInput
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.retention import DataRetentionOperation

TABLE = "raw.events"
# demo row i is at START + (i % 4) days + i seconds: four day partitions
START = datetime(2026, 1, 1, tzinfo=UTC)
# now - 30d falls 5 minutes into the third day: days 1-2 old, day 3 straddles, day 4 young
NOW = START + timedelta(days=32, seconds=300)
RETENTION = "30d"
CUTOFF = NOW - timedelta(days=30)


def _run(lakehouse, op, *, dry_run=False, table=TABLE):
    return OperationExecutor(lakehouse).run(op, table, dry_run=dry_run)


def _rows(handle) -> list[tuple]:
    rows = handle.to_arrow()
    return sorted(zip(*(rows.column(c).to_pylist() for c in rows.column_names), strict=True))


def _young(rows: pa.Table) -> list[tuple]:
    """The oracle: pyarrow's own filter on the rows read before."""
    kept = rows.filter(pc.greater_equal(rows["event_time"], pa.scalar(CUTOFF)))
    return sorted(zip(*(kept.column(c).to_pylist() for c in kept.column_names), strict=True))


def _files_by_day(handle) -> dict[int, set[str]]:
    days: dict[int, set[str]] = {}
    for f in live_files(handle.table, handle.snapshot).data:
        days.setdefault(f.data_file.partition[0], set()).add(f.path)
    return days


def _split_by_contents(handle, cutoff=CUTOFF) -> tuple[set[str], set[str], set[str]]:
    """(all old, straddling, all young) data files, from each file's own rows (pyarrow)."""
    import pyarrow.parquet as pq

    old, straddling, young = set(), set(), set()
    for f in live_files(handle.table, handle.snapshot).data:
        times = pq.read_table(urlparse(f.path).path, columns=["event_time"])["event_time"]
        low, high = pc.min(times).as_py(), pc.max(times).as_py()
        (old if high < cutoff else young if low >= cutoff else straddling).add(f.path)
    return old, straddling, young


def _op(**kwargs):
    return DataRetentionOperation(column="event_time", retention=RETENTION, now=NOW, **kwargs)


def test_partitioned_table_drops_old_partitions_and_rewrites_the_boundary(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=200)
    before = handle.to_arrow()
    days = _files_by_day(handle)
    first_day = min(days)
    old_files, boundary_files, young_files = _split_by_contents(handle)
    assert days[first_day] | days[first_day + 1] <= old_files
    assert boundary_files and boundary_files <= days[first_day + 2]

    dry = _run(lakehouse, _op(), dry_run=True)
    result = _run(lakehouse, _op())

    after = lakehouse.get_table(TABLE)
    assert _rows(after) == _young(before)
    assert dry.figures == result.figures
    assert result.figures["rows_to_delete"] == before.num_rows - len(_young(before))
    assert result.figures["files_to_drop"] == len(old_files)
    assert result.figures["files_to_rewrite"] == len(boundary_files)  # the only files read
    assert result.figures["partitions_to_drop"] == 2
    assert set(result.details["files_to_drop"]) == old_files
    assert set(result.details["files_to_rewrite"]) == boundary_files
    remaining = _files_by_day(after)
    assert set(remaining) == {first_day + 2, first_day + 3}
    assert young_files <= {p for paths in remaining.values() for p in paths}  # untouched
    assert not remaining[first_day + 2] & (boundary_files | old_files)
    summary = after.snapshot.summary
    assert summary.operation.value == "overwrite"
    assert summary["deleted-data-files"] == str(len(old_files | boundary_files))
    assert summary["total-records"] == str(len(_young(before)))


def test_metadata_only_when_every_dropped_file_is_old(lakehouse):
    """With a cutoff on a day boundary no file straddles: files are dropped, none read or
    written, and the snapshot is a delete."""
    handle = seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=100)
    now = START + timedelta(days=32)  # cutoff = START + 2 days, midnight
    op = DataRetentionOperation(column="event_time", retention="30d", now=now)

    result = _run(lakehouse, op)

    assert result.figures["files_to_rewrite"] == 0 and result.details["files_written"] == []
    assert result.figures["partitions_to_drop"] == 2
    after = lakehouse.get_table(TABLE)
    assert after.snapshot.summary.operation.value == "delete"
    assert after.snapshot.summary["added-data-files"] == "0"
    cutoff = START + timedelta(days=2)
    before = handle.to_arrow()
    expected = before.filter(pc.greater_equal(before["event_time"], pa.scalar(cutoff)))
    assert sorted(after.to_arrow()["event_id"].to_pylist()) == sorted(
        expected["event_id"].to_pylist()
    )
    assert result.figures["rows_to_delete"] == before.num_rows - expected.num_rows > 0


def test_unpartitioned_table_uses_column_bounds(lakehouse):
    """No partitions: old-only files go by their column upper bound; mixed files are
    rewritten; files with only young rows and null timestamps stay."""
    catalog = lakehouse.catalog()
    seed_demo_table(lakehouse, TABLE, commits=1, rows_per_commit=40, partitioned=False)
    table = catalog.load_table(TABLE)
    old_only = demo_rows(1000, 30, days=1)  # all on START's day
    table.append(old_only)
    nulls = demo_rows(2000, 5).set_column(
        1, "event_time", pa.nulls(5, pa.timestamp("us", tz="UTC"))
    )
    table.append(nulls)
    handle = lakehouse.get_table(TABLE)
    before = handle.to_arrow()

    result = _run(lakehouse, _op())

    after = lakehouse.get_table(TABLE)
    expected = sorted(
        _young(before) + [r for r in _rows(handle) if r[1] is None]  # nulls are never old
    )
    assert _rows(after) == expected
    assert result.figures["files_to_drop"] == 1  # the old-only file, by its upper bound
    assert result.figures["files_to_rewrite"] == 1  # the mixed seed file
    assert result.figures["rows_to_delete"] == before.num_rows - len(expected)


def test_rows_appended_between_plan_and_commit_are_kept(lakehouse):
    """An append lands after the plan (old rows too): the commit rebuilds on the new head and
    the appended rows stay; the retention removes only what it planned."""
    handle = seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=100)
    before = handle.to_arrow()
    op = _op()
    plan = op.plan(handle)
    late = demo_rows(5000, 20)  # rows on all four days, some old
    lakehouse.get_table(TABLE).table.append(late)

    result = op.execute(handle, plan)

    after = lakehouse.get_table(TABLE)
    late_rows = sorted(zip(*(late.column(c).to_pylist() for c in late.column_names), strict=True))
    assert _rows(after) == sorted(_young(before) + late_rows)
    assert result.attempts >= 2  # the first attempt lost the race with the append


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"column": "nope", "retention": "30d"}, InvalidInput, "unknown column 'nope'"),
        ({"column": "kind", "retention": "30d"}, InvalidInput, "needs a timestamp or date"),
        ({"column": "user_id", "retention": "30d"}, InvalidInput, "has type int"),
        ({"column": "event_time", "retention": "-5d"}, InvalidDuration, "is negative"),
        ({"column": "event_time", "retention": "0s"}, InvalidInput, "must be positive"),
        ({"column": "event_time", "retention": "soon"}, InvalidDuration, "retention"),
    ],
)
def test_bad_input_fails_before_anything_is_written(lakehouse, kwargs, error, message):
    handle = seed_demo_table(lakehouse, TABLE, commits=1, rows_per_commit=10)
    root = Path(urlparse(handle.table.location()).path)
    files = {p for p in root.rglob("*") if p.is_file()}
    with pytest.raises(error, match=message):
        _run(lakehouse, DataRetentionOperation(now=NOW, **kwargs))
    after = lakehouse.get_table(TABLE)
    assert {p for p in root.rglob("*") if p.is_file()} == files
    assert after.snapshot_id == handle.snapshot_id


def test_nothing_old_is_no_commit(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=1, rows_per_commit=10)
    op = DataRetentionOperation(column="event_time", retention="3650d", now=NOW)
    result = _run(lakehouse, op)
    assert not result.committed and result.figures["rows_to_delete"] == 0
    assert lakehouse.get_table(TABLE).snapshot_id == handle.snapshot_id
