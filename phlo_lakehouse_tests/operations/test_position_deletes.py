"""RewritePositionDeletesOperation on a real SQLite catalog: many small position delete files
(written by the test with plain pyarrow, `position_delete_helpers`) compacted per partition;
PyIceberg's scan reads the same rows, the same (file_path, pos) pairs stay deleted except the
dangling ones, outputs are file-scoped with the replaced files' highest sequence number, dry run
== real run, a concurrent change is kept or re-planned, bad input refused before anything is
written."""

from pathlib import Path
from urllib.parse import urlparse

import pytest

from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import Conflict, InvalidConfig, InvalidInput
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.position_deletes import RewritePositionDeletesOperation
from phlo_lakehouse.operations.replace import ReplaceFiles
from phlo_lakehouse_tests.operations.conftest import rows_of
from phlo_lakehouse_tests.operations.position_delete_helpers import (
    FILE_PATH_ID,
    delete_positions,
    deleted_pairs,
    position_deletes_of,
)

TABLE = "raw.events"
ROUNDS = 4


def _seed(lakehouse, **kwargs):
    """3 appends x 4 day partitions = 12 data files; ROUNDS rounds of deletes on the first 6
    (two partitions): 24 one-file delete files of 2 rows each."""
    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=120, **kwargs)
    data = _data_by_partition(handle)
    targets = sorted(data)[:2]
    paths = [p for key in targets for p in data[key]]
    for r in range(ROUNDS):
        handle = delete_positions(handle, {p: [2 * r, 2 * r + 1] for p in paths})
    return handle, paths


def _data_by_partition(handle) -> dict[tuple, list[str]]:
    by: dict[tuple, list[str]] = {}
    for f in live_files(handle.table, handle.snapshot).data:
        by.setdefault(f.partition_key, []).append(f.path)
    return {k: sorted(v) for k, v in by.items()}


def _run(lakehouse, op, *, dry_run=False):
    return OperationExecutor(lakehouse).run(op, TABLE, dry_run=dry_run)


def _files_on_disk(handle) -> set[str]:
    root = Path(urlparse(handle.table.location()).path)
    return {str(p) for p in root.rglob("*") if p.is_file()}


def test_compacts_into_one_file_per_data_file_and_reads_the_same_rows(lakehouse):
    handle, paths = _seed(lakehouse)
    rows, pairs = rows_of(handle), deleted_pairs(handle)
    before = position_deletes_of(handle)
    assert len(before) == ROUNDS * len(paths) and len(pairs) == 2 * ROUNDS * len(paths)

    result = _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2))

    after = lakehouse.get_table(TABLE)
    assert rows_of(after) == rows  # PyIceberg's scan applies the new files the same way
    assert deleted_pairs(after) == pairs
    outputs = position_deletes_of(after)
    assert len(outputs) == len(paths)  # write.delete.granularity unset: Spark's "file"
    for output in outputs:  # file-scoped: whole-path bounds naming one data file
        lower = output.data_file.lower_bounds[FILE_PATH_ID]
        assert lower == output.data_file.upper_bounds[FILE_PATH_ID]
        assert lower.decode() in paths and output.data_file.record_count == 2 * ROUNDS
        assert output.data_sequence_number == max(d.data_sequence_number for d in before)
    assert result.figures["delete_files_to_rewrite"] == len(before)
    assert result.figures["file_groups"] == result.figures["partitions"] == 2
    assert result.details["delete_records_written"] == len(pairs)
    summary = after.snapshot.summary
    assert summary.operation.value == "replace"
    assert summary["removed-delete-files"] == str(len(before))
    assert summary["added-delete-files"] == str(len(paths))
    assert summary["total-data-files"] == "12"


def test_partition_granularity_writes_one_file_per_group(lakehouse):
    handle, paths = _seed(lakehouse, properties={"write.delete.granularity": "partition"})
    rows, pairs = rows_of(handle), deleted_pairs(handle)

    result = _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2))

    after = lakehouse.get_table(TABLE)
    assert len(position_deletes_of(after)) == 2 == result.figures["file_groups"]
    assert rows_of(after) == rows and deleted_pairs(after) == pairs
    # the argument beats the table property
    after = delete_positions(after, {paths[0]: [50]})
    pairs = deleted_pairs(after)
    again = _run(
        lakehouse, RewritePositionDeletesOperation(min_input_files=2, delete_granularity="file")
    )
    final = lakehouse.get_table(TABLE)
    assert again.details["delete_granularity"] == "file"
    # the first partition's two files become one per data file; the second's lone file stays
    assert len(position_deletes_of(final)) == len(paths) // 2 + 1
    assert deleted_pairs(final) == pairs and again.figures["file_groups"] == 1


def test_dry_run_equals_real_run_and_a_second_run_finds_nothing(lakehouse):
    handle, _ = _seed(lakehouse)
    snapshot = handle.snapshot_id
    op = RewritePositionDeletesOperation(min_input_files=2)

    dry = _run(lakehouse, op, dry_run=True)
    assert lakehouse.get_table(TABLE).snapshot_id == snapshot  # the dry run changed nothing
    result = _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2))
    again = _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2))

    assert dry.figures == result.figures and result.committed and not dry.committed
    assert dry.details["groups"] == result.details["groups"]
    assert not again.committed and again.figures["delete_files_to_rewrite"] == 0


def test_small_groups_follow_icebergs_rules(lakehouse):
    handle, _ = _seed(lakehouse)
    # 12 one-file deletes per partition: min_input_files 13 leaves them, the content rule too
    # (all of them weigh less than the 64 MiB target)
    assert not _run(lakehouse, RewritePositionDeletesOperation(min_input_files=13)).committed
    # a target below each file's size: every file is "large" and a group of its own (a table
    # property: the argument refuses targets under 1 KiB)
    with handle.table.transaction() as tx:
        tx.set_properties({"write.delete.target-file-size-bytes": "100"})
    big = _run(lakehouse, RewritePositionDeletesOperation(max_file_group_size="1KB"), dry_run=True)
    assert big.figures["file_groups"] == len(position_deletes_of(handle))
    # the partition filter keeps the other partitions out
    day = sorted(_data_by_partition(handle))[0][1][0]
    one = _run(
        lakehouse,
        RewritePositionDeletesOperation(
            min_input_files=2, partition_filter=f"event_time < '{_day_end(day)}'"
        ),
        dry_run=True,
    )
    assert one.figures["partitions"] == 1 and one.figures["position_delete_files"] == 12


def _day_end(day: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day + 1)).isoformat()


def test_dangling_delete_files_and_rows_are_dropped(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=120)
    data = _data_by_partition(handle)
    first, second = sorted(data)[:2]
    # file-scoped deletes in the first partition, partition-scoped ones in the second
    for r in range(3):
        handle = delete_positions(handle, {p: [r] for p in data[first]})
        handle = delete_positions(handle, {p: [10 + r] for p in data[second]}, per_data_file=False)
    rows, pairs = rows_of(handle), deleted_pairs(handle)
    # another writer drops one data file of each partition and leaves the deletes behind
    live = {f.path: f for f in live_files(handle.table, handle.snapshot).data}
    gone = [data[first][0], data[second][0]]
    ReplaceFiles(
        handle.table,
        "main",
        starting_snapshot_id=handle.snapshot_id,
        removed=[live[p] for p in gone],
        added=[],
        operation="delete",
        drop_unused_deletes=False,
    ).commit()
    handle = handle.refresh()
    gone_rows = 120 * 3 // 12 - 3  # rows of one data file minus its 3 deleted positions
    rows_left = rows_of(handle)
    assert len(rows_left) == len(rows) - 2 * gone_rows

    dry = _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2), dry_run=True)
    result = _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2))

    after = lakehouse.get_table(TABLE)
    assert dry.figures == result.figures
    assert result.figures["dangling_delete_files"] == 3  # the dropped file's three, unread
    assert result.details["dangling_delete_records"] == 3  # its rows in the partition files
    assert rows_of(after) == rows_left
    assert deleted_pairs(after) == {(p, n) for p, n in pairs if p not in gone}


def test_a_concurrent_append_is_kept_and_a_vanished_delete_file_replans(lakehouse):
    handle, paths = _seed(lakehouse)
    op = RewritePositionDeletesOperation(min_input_files=2)
    plan = op.plan(handle)
    # a concurrent merge-on-read commit lands between plan and commit
    handle = delete_positions(handle, {paths[0]: [100]})
    rows = rows_of(handle)
    result = op.execute(handle, plan)
    after = lakehouse.get_table(TABLE)
    assert result.committed and rows_of(after) == rows
    assert (paths[0], 100) in deleted_pairs(after)

    # a delete file of the plan removed meanwhile: refused, nothing left behind, re-planned
    handle, _ = _seed_again(lakehouse)
    op = RewritePositionDeletesOperation(min_input_files=2)
    plan = op.plan(handle)
    victim = position_deletes_of(handle)[0]
    ReplaceFiles(
        handle.table,
        "main",
        starting_snapshot_id=handle.snapshot_id,
        removed=[],
        added=[],
        removed_deletes=[victim],
        drop_unused_deletes=False,
    ).commit()
    handle = handle.refresh()
    on_disk = _files_on_disk(handle)
    with pytest.raises(Conflict, match="no longer live"):
        op.execute(handle, plan)
    assert _files_on_disk(handle) == on_disk  # the outputs of the refused commit are gone
    replanned = _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2))
    assert replanned.committed


def _seed_again(lakehouse):
    lakehouse.catalog().drop_table(("raw", "events"))
    return _seed(lakehouse)


def test_partial_progress_commits_in_batches(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=120)
    paths = [f.path for f in live_files(handle.table, handle.snapshot).data]
    for r in range(2):
        handle = delete_positions(handle, {p: [r] for p in paths})
    rows, pairs = rows_of(handle), deleted_pairs(handle)
    snapshots = len(handle.table.snapshots())

    result = _run(
        lakehouse,
        RewritePositionDeletesOperation(min_input_files=2, partial_progress=True, max_commits=2),
    )

    after = lakehouse.get_table(TABLE)
    assert result.figures["file_groups"] == 4 and result.details["commits"] == 2
    assert len(after.table.snapshots()) == snapshots + 2
    assert rows_of(after) == rows and deleted_pairs(after) == pairs


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"min_input_files": 0}, InvalidInput, "min_input_files=0"),
        ({"min_file_size_ratio": 1.2}, InvalidInput, "size ratios"),
        ({"delete_granularity": "row"}, InvalidInput, "delete_granularity='row'"),
        ({"target_file_size": "12XB"}, InvalidInput, "target_file_size"),
        ({"target_file_size": 100}, InvalidInput, r"target_file_size=100 \(100 B\) is below"),
        ({"max_file_group_size": "20TB"}, InvalidInput, r"max_file_group_size='20TB' \(20.0 TiB\)"),
        ({"partition_filter": "event_time >>> 3"}, InvalidInput, "partition_filter"),
        ({"rewrite_job_order": "random"}, InvalidInput, "rewrite_job_order='random'"),
        ({"max_commits": 0}, InvalidInput, "max_commits=0"),
    ],
)
def test_bad_arguments_are_refused_when_built(kwargs, error, message):
    with pytest.raises(error, match=message):
        RewritePositionDeletesOperation(**kwargs)


def test_bad_table_state_is_refused_before_anything_is_written(lakehouse):
    handle, _ = _seed(lakehouse)
    handle.table.manage_snapshots().create_tag(handle.snapshot_id, "v1").commit()
    with handle.table.transaction() as tx:
        tx.set_properties({"write.delete.granularity": "row"})
    on_disk, snapshot = _files_on_disk(handle), handle.snapshot_id
    with pytest.raises(InvalidInput, match="is a tag"):
        OperationExecutor(lakehouse).run(RewritePositionDeletesOperation(), TABLE, "v1")
    with pytest.raises(InvalidInput, match="partition_filter cannot be applied"):
        _run(lakehouse, RewritePositionDeletesOperation(partition_filter="nope = 1"))
    with pytest.raises(InvalidConfig, match="write.delete.granularity='row'"):
        _run(lakehouse, RewritePositionDeletesOperation(min_input_files=2))
    after = lakehouse.get_table(TABLE)
    assert _files_on_disk(after) == on_disk and after.snapshot_id == snapshot
