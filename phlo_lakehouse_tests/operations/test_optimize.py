"""OptimizeOperation on real SQLite-catalog tables: compaction keeps every row, commits replace."""

import pyarrow.compute as pc
import pytest

from phlo_lakehouse import InvalidInput, InvalidSize
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse_tests.operations.conftest import data_file_paths, rows_of


@pytest.fixture
def events(lakehouse):
    return seed_demo_table(lakehouse, "raw.events", commits=6, rows_per_commit=300)


def test_binpack_compacts_small_files_into_one_per_partition(lakehouse, events):
    before_rows, before_files = rows_of(events), data_file_paths(events)
    result = OperationExecutor(lakehouse).run(OptimizeOperation(), "raw.events")

    after = lakehouse.get_table("raw.events")
    assert result.committed and result.figures["files_to_rewrite"] == 24
    assert result.figures["file_groups"] == result.figures["partitions"] == 4
    assert rows_of(after) == before_rows
    assert len(data_file_paths(after)) == result.figures["expected_output_files"] == 4
    assert not data_file_paths(after) & before_files
    assert after.snapshot.summary.operation.value == "replace"
    assert after.snapshot.summary["total-records"] == "1800"
    assert after.snapshot.summary["total-data-files"] == "4"


def test_dry_run_reports_exactly_the_files_the_run_rewrites(lakehouse, events):
    executor = OperationExecutor(lakehouse)
    dry = executor.run(OptimizeOperation(), "raw.events", dry_run=True)
    assert lakehouse.get_table("raw.events").snapshot_id == events.snapshot_id
    real = executor.run(OptimizeOperation(), "raw.events")
    assert dry.figures == real.figures
    assert [g["files"] for g in dry.details["groups"]] == [
        g["files"] for g in real.details["groups"]
    ]


def test_rows_appended_between_plan_and_commit_are_kept(lakehouse, events):
    op = OptimizeOperation()
    plan = op.plan(events)
    other = lakehouse.get_table("raw.events").table
    other.append(demo_rows(50_000, 70))

    result = op.execute(events, plan)

    after = lakehouse.get_table("raw.events")
    assert result.committed and result.attempts == 2
    assert len(rows_of(after)) == 1800 + 70
    assert {r["event_id"] for r in rows_of(after)} >= set(range(50_000, 50_070))


def test_a_file_removed_concurrently_makes_the_executor_replan(lakehouse, events):
    executor = OperationExecutor(lakehouse)
    op = OptimizeOperation()
    plan = op.plan(events)
    other = lakehouse.get_table("raw.events").table
    other.delete("event_id < 100")  # rewrites files the plan wanted to replace
    expected = rows_of(lakehouse.get_table("raw.events"))

    from phlo_lakehouse import Conflict

    with pytest.raises(Conflict):
        op.execute(events, plan)
    assert rows_of(lakehouse.get_table("raw.events")) == expected
    result = executor.run(op, "raw.events")
    assert result.committed
    assert rows_of(lakehouse.get_table("raw.events")) == expected


def test_min_input_files_leaves_small_partitions_alone(lakehouse):
    seed_demo_table(lakehouse, "raw.few", commits=3, rows_per_commit=100)
    result = OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=5), "raw.few")
    assert not result.committed
    assert result.figures["file_groups"] == 0
    assert lakehouse.get_table("raw.few").snapshot.summary.operation.value == "append"


def test_target_size_from_table_property_splits_output(lakehouse):
    seed_demo_table(
        lakehouse,
        "raw.t",
        commits=8,
        rows_per_commit=2000,
        partitioned=False,
        properties={"write.target-file-size-bytes": "40000"},
    )
    before = rows_of(lakehouse.get_table("raw.t"))
    result = OperationExecutor(lakehouse).run(OptimizeOperation(), "raw.t")
    after = lakehouse.get_table("raw.t")
    assert rows_of(after) == before
    assert result.figures["expected_output_files"] > 1
    assert len(data_file_paths(after)) == result.figures["expected_output_files"]
    assert result.details["target_file_size"] == 40000


def test_sort_strategy_orders_rows_in_each_output_file(lakehouse, events):
    before = rows_of(events)
    OperationExecutor(lakehouse).run(
        OptimizeOperation(strategy="sort", sort_by=["user_id desc"]), "raw.events"
    )
    after = lakehouse.get_table("raw.events")
    assert rows_of(after) == before
    for path in data_file_paths(after):
        import pyarrow.parquet as pq

        users = pq.read_table(path.removeprefix("file://"), columns=["user_id"])["user_id"]
        assert users.to_pylist() == sorted(users.to_pylist(), reverse=True)


def test_sort_strategy_uses_the_table_sort_order(lakehouse):
    from pyiceberg.table.sorting import SortField, SortOrder
    from pyiceberg.transforms import IdentityTransform

    from phlo_lakehouse.demo import demo_schema

    lakehouse.catalog().create_namespace("raw")
    table = lakehouse.catalog().create_table(
        "raw.sorted",
        schema=demo_schema(),
        sort_order=SortOrder(SortField(source_id=5, transform=IdentityTransform())),
    )
    for i in range(5):
        table.append(demo_rows(i * 100, 100))
    result = OperationExecutor(lakehouse).run(OptimizeOperation(strategy="sort"), "raw.sorted")
    assert result.details["sort_keys"][0][:2] == ["amount", "ascending"]
    files = lakehouse.get_table("raw.sorted").table.inspect.files()
    assert files.num_rows == 1
    assert files["sort_order_id"].to_pylist() == [table.metadata.default_sort_order_id]
    amounts = lakehouse.get_table("raw.sorted").to_arrow()["amount"].to_pylist()
    assert amounts == sorted(amounts)


def test_zorder_keeps_rows_and_clusters(lakehouse, events):
    before = rows_of(events)
    result = OperationExecutor(lakehouse).run(
        OptimizeOperation(strategy="zorder", zorder_by=["user_id", "amount"]), "raw.events"
    )
    assert result.committed
    assert rows_of(lakehouse.get_table("raw.events")) == before


def test_partition_filter_limits_the_rewrite(lakehouse, events):
    op = OptimizeOperation(partition_filter="event_time < '2026-01-02T00:00:00+00:00'")
    result = OperationExecutor(lakehouse).run(op, "raw.events")
    assert result.figures["partitions"] == 1
    assert result.figures["files_to_rewrite"] == 6


def test_partial_progress_commits_each_group(lakehouse, events):
    before = rows_of(events)
    result = OperationExecutor(lakehouse).run(
        OptimizeOperation(partial_progress=True), "raw.events"
    )
    after = lakehouse.get_table("raw.events")
    assert result.details["commits"] == 4
    assert len(after.table.snapshots()) == 6 + 4
    assert rows_of(after) == before


def test_files_select_one_group_of_an_earlier_plan(lakehouse, events):
    plan = OptimizeOperation().plan(events)
    first = plan.details["groups"][0]
    executor = OperationExecutor(lakehouse)
    executor.run(OptimizeOperation(files=plan.details["groups"][1]["files"]), "raw.events")
    result = executor.run(OptimizeOperation(files=first["files"]), "raw.events")
    assert result.figures["files_to_rewrite"] == len(first["files"])
    remaining = data_file_paths(lakehouse.get_table("raw.events"))
    assert not set(first["files"]) & remaining
    assert len(remaining) == 24 - 2 * len(first["files"]) + 2


def test_compaction_on_a_branch_leaves_main_untouched(lakehouse, events):
    events.table.manage_snapshots().create_branch(events.snapshot_id, "dev").commit()
    main_before = lakehouse.get_table("raw.events").snapshot_id
    result = OperationExecutor(lakehouse).run(OptimizeOperation(), "raw.events", ref="dev")
    assert result.committed
    assert lakehouse.get_table("raw.events").snapshot_id == main_before
    dev = lakehouse.get_table("raw.events", ref="dev")
    assert len(data_file_paths(dev)) == 4
    assert rows_of(dev) == rows_of(lakehouse.get_table("raw.events"))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"strategy": "hilbert"}, InvalidInput),
        ({"strategy": "zorder"}, InvalidInput),
        ({"zorder_by": ["user_id"]}, InvalidInput),
        ({"min_input_files": 0}, InvalidInput),
        ({"target_file_size": "12XB"}, InvalidSize),
        ({"target_file_size": "-1MB"}, InvalidSize),
        ({"target_file_size": 0}, InvalidSize),
        ({"target_file_size": 1}, InvalidSize),
        ({"target_file_size": "65GB"}, InvalidSize),
        ({"max_file_group_size": "1000"}, InvalidSize),
        ({"partition_filter": "event_time >>> 3"}, InvalidInput),
        ({"strategy": "sort", "sort_by": ["user_id sideways"]}, InvalidInput),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, error):
    with pytest.raises(error) as info:
        OptimizeOperation(**kwargs)
    assert info.value.hint


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "sort", "sort_by": ["no_such_column"]},
        {"strategy": "zorder", "zorder_by": ["no_such_column"]},
        {"strategy": "sort"},  # no sort order on the table
        {"partition_filter": "no_such_column = 1"},
    ],
)
def test_bad_columns_fail_before_anything_is_written(lakehouse, events, kwargs):
    location = events.table.metadata_location
    with pytest.raises(InvalidInput) as info:
        OperationExecutor(lakehouse).run(OptimizeOperation(**kwargs), "raw.events")
    assert info.value.hint
    assert lakehouse.get_table("raw.events").table.metadata_location == location


def test_zorder_on_an_unsupported_type_is_rejected(lakehouse):
    import pyarrow as pa

    lakehouse.catalog().create_namespace("raw")
    table = lakehouse.catalog().create_table(
        "raw.blobs", schema=pa.schema([("event_id", pa.int64()), ("payload", pa.binary())])
    )
    table.append(pa.table({"event_id": [1, 2], "payload": [b"a", b"b"]}))
    with pytest.raises(InvalidInput, match="z-order on column 'payload'"):
        OperationExecutor(lakehouse).run(
            OptimizeOperation(strategy="zorder", zorder_by=["payload"]), "raw.blobs"
        )


def test_tags_cannot_be_compacted(lakehouse, events):
    events.table.manage_snapshots().create_tag(events.snapshot_id, "v1").commit()
    with pytest.raises(InvalidInput, match="tag"):
        OperationExecutor(lakehouse).run(OptimizeOperation(), "raw.events", ref="v1")


def test_output_files_carry_column_statistics(lakehouse, events):
    OperationExecutor(lakehouse).run(OptimizeOperation(), "raw.events")
    files = lakehouse.get_table("raw.events").table.inspect.files()
    assert pc.min(files["record_count"]).as_py() > 0
    assert all(bounds for bounds in files["lower_bounds"].to_pylist())
