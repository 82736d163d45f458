"""Spark 1.10's rewrite options on OptimizeOperation, on a real SQLite catalog: job order,
partial-progress commit limits (commits made to fail for real by a concurrent writer and
counted), the delete-file threshold, the starting sequence number of rewritten files, bad values
refused before anything is read."""

import pytest

from phlo_lakehouse import IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import Conflict, InvalidInput
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.listing import list_storage
from phlo_lakehouse_tests.operations.conftest import rows_of
from phlo_lakehouse_tests.operations.position_delete_helpers import delete_positions

TABLE = "raw.events"


def _seed(lakehouse):
    # 6 appends x 4 day partitions: 4 groups of 6 small files, of different sizes per day
    return seed_demo_table(lakehouse, TABLE, commits=6, rows_per_commit=120)


@pytest.mark.parametrize("order", ["bytes-asc", "bytes-desc", "files-asc", "files-desc"])
def test_rewrite_job_order_orders_the_groups(lakehouse, order):
    _seed(lakehouse)
    plan = OperationExecutor(lakehouse).run(
        OptimizeOperation(rewrite_job_order=order), TABLE, dry_run=True
    )
    groups = plan.details["groups"]
    measure = [g["input_bytes"] if order.startswith("bytes") else len(g["files"]) for g in groups]
    assert len(groups) == 4
    assert measure == sorted(measure, reverse=order.endswith("desc"))


def test_max_commits_bounds_the_partial_progress_commits(lakehouse):
    handle = _seed(lakehouse)
    before = rows_of(handle)
    snapshots = len(handle.table.snapshots())

    result = OperationExecutor(lakehouse).run(
        OptimizeOperation(partial_progress=True, max_commits=3), TABLE
    )

    after = lakehouse.get_table(TABLE)
    assert result.details["commits"] == 2  # 4 groups in at most 3 commits: 2 + 2
    assert len(after.table.snapshots()) == snapshots + 2
    assert rows_of(after) == before
    assert len(live_files(after.table, after.snapshot).data) == 4


@pytest.mark.parametrize("starting", [True, False])
def test_rewritten_files_keep_the_starting_sequence_number(lakehouse, starting):
    handle = _seed(lakehouse)
    start = handle.snapshot.sequence_number

    OperationExecutor(lakehouse).run(
        OptimizeOperation(use_starting_sequence_number=starting), TABLE
    )

    after = lakehouse.get_table(TABLE)
    sequences = {f.data_sequence_number for f in live_files(after.table, after.snapshot).data}
    assert sequences == ({start} if starting else {after.snapshot.sequence_number})
    assert after.snapshot.sequence_number == start + 1


def _unreachable(lakehouse) -> set[str]:
    table = IcebergLakehouse(lakehouse.settings).get_table(TABLE).table
    return {f.path for f in list_storage(table.io, table.location())} - reachable_files(table).all()


@pytest.mark.parametrize(
    ("max_failed_commits", "deleted_ids", "fails"),
    [
        (None, [3], False),  # default: as many failures as max_commits
        (0, [3], True),
        (1, [3], False),
        (1, [0, 3], True),  # two batches refused, one allowed
        (2, [0, 3], False),
    ],
)
def test_max_failed_commits_counts_commits_refused_by_a_concurrent_writer(
    lakehouse, max_failed_commits, deleted_ids, fails
):
    handle = _seed(lakehouse)
    op = OptimizeOperation(
        partial_progress=True, max_concurrent_groups=1, max_failed_commits=max_failed_commits
    )
    plan = op.plan(handle)
    assert plan.figures["file_groups"] == 4  # one group (and batch) per day
    # another writer deletes rows of day 1 (event 0) and/or day 4 (event 3) after the plan
    other = IcebergLakehouse(lakehouse.settings).get_table(TABLE).table
    for event_id in deleted_ids:
        other.delete(f"event_id == {event_id}")
    expected = rows_of(lakehouse.get_table(TABLE))
    left_over = _unreachable(lakehouse)

    if fails:
        with pytest.raises(Conflict):
            op.execute(handle, plan)
    else:
        result = op.execute(handle, plan)
        assert result.details["failed_commits"] == len(deleted_ids)
        assert result.details["commits"] == 4 - len(deleted_ids)
        assert result.figures["file_groups"] == 4 - len(deleted_ids)

    after = lakehouse.get_table(TABLE)
    assert rows_of(after) == expected  # the other writer's deletes and every other row stay
    assert _unreachable(lakehouse) == left_over  # refused batches left no file behind


def test_delete_file_threshold_rewrites_files_with_that_many_delete_files(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=120)
    data = sorted(live_files(handle.table, handle.snapshot).data, key=lambda f: f.path)
    sizes = [f.data_file.file_size_in_bytes for f in data]
    target = int(min(sizes) / 0.75)  # every file inside the size band: none chosen by size
    assert max(sizes) <= 1.8 * target
    many, few = data[0], data[1]  # 3 and 2 delete files, 1 row each (under the 30% ratio)
    for r in range(3):
        handle = delete_positions(handle, {many.path: [r], **({few.path: [r]} if r < 2 else {})})
    rows = rows_of(handle)

    def planned(**kwargs) -> set[str]:
        op = OptimizeOperation(target_file_size=target, min_input_files=1, **kwargs)
        plan = OperationExecutor(lakehouse).run(op, TABLE, dry_run=True)
        return {p for g in plan.details["groups"] for p in g["files"]}

    assert planned() == set()
    assert planned(delete_file_threshold=4) == set()
    assert planned(delete_file_threshold=3) == {many.path}
    assert planned(delete_file_threshold=2) == {many.path, few.path}

    result = OperationExecutor(lakehouse).run(
        OptimizeOperation(target_file_size=target, min_input_files=1, delete_file_threshold=3),
        TABLE,
    )
    after = lakehouse.get_table(TABLE)
    assert result.figures["files_to_rewrite"] == 1 and rows_of(after) == rows
    paths = {f.path for f in live_files(after.table, after.snapshot).data}
    assert many.path not in paths and few.path in paths


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rewrite_job_order": "random"}, "rewrite_job_order='random' is not supported"),
        ({"max_commits": 0}, "max_commits=0 must be a whole number"),
        ({"max_failed_commits": -1}, "max_failed_commits=-1"),
        ({"delete_file_threshold": 0}, "delete_file_threshold=0"),
        ({"remove_dangling_deletes": "yes"}, "remove_dangling_deletes must be true or false"),
    ],
)
def test_bad_options_are_refused_when_built(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        OptimizeOperation(**kwargs)
