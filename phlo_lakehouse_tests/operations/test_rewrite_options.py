"""Spark 1.10's rewrite options on OptimizeOperation, on a real SQLite catalog: job order,
partial-progress commit limits, the starting sequence number of rewritten files, bad values
refused before anything is read."""

import pytest

from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse_tests.operations.conftest import rows_of

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
