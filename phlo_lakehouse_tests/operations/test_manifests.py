"""RewriteManifestsOperation: fewer manifests, clustered by partition, same data."""

import pytest

from phlo_lakehouse import InvalidInput, InvalidSize
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.manifests import RewriteManifestsOperation
from phlo_lakehouse_tests.operations.conftest import data_file_paths, rows_of


def test_manifests_are_merged_and_clustered_without_changing_data(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.events", commits=12, rows_per_commit=100)
    before_rows, before_files = rows_of(handle), data_file_paths(handle)
    assert len(handle.snapshot.manifests(handle.table.io)) == 12

    result = OperationExecutor(lakehouse).run(RewriteManifestsOperation(), "raw.events")

    after = lakehouse.get_table("raw.events")
    manifests = after.snapshot.manifests(after.table.io)
    assert result.committed
    assert result.figures["manifests_to_rewrite"] == 12
    assert len(manifests) == result.figures["expected_manifests"] == 1
    assert data_file_paths(after) == before_files
    assert rows_of(after) == before_rows
    assert after.snapshot.summary.operation.value == "replace"
    assert after.snapshot.summary["total-records"] == handle.snapshot.summary["total-records"]


def test_small_target_splits_manifests_by_partition(lakehouse):
    seed_demo_table(lakehouse, "raw.events", commits=10, rows_per_commit=100)
    result = OperationExecutor(lakehouse).run(
        RewriteManifestsOperation(target_manifest_size="8KB"), "raw.events"
    )
    after = lakehouse.get_table("raw.events")
    manifests = after.snapshot.manifests(after.table.io)
    assert len(manifests) == result.figures["expected_manifests"] > 1
    # clustered: each partition's files sit in as few manifests as possible
    spans = {}
    for manifest in manifests:
        for entry in manifest.fetch_manifest_entry(after.table.io):
            spans.setdefault(tuple(entry.data_file.partition), set()).add(manifest.manifest_path)
    assert sum(len(s) for s in spans.values()) <= len(spans) + len(manifests)


def test_dry_run_matches_and_changes_nothing(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.events", commits=6, rows_per_commit=10)
    executor = OperationExecutor(lakehouse)
    dry = executor.run(RewriteManifestsOperation(), "raw.events", dry_run=True)
    assert lakehouse.get_table("raw.events").snapshot_id == handle.snapshot_id
    real = executor.run(RewriteManifestsOperation(), "raw.events")
    assert dry.figures == real.figures


def test_nothing_to_do_when_already_one_manifest(lakehouse):
    seed_demo_table(lakehouse, "raw.events", commits=1, rows_per_commit=10)
    result = OperationExecutor(lakehouse).run(RewriteManifestsOperation(), "raw.events")
    assert not result.committed and result.figures["manifests_to_rewrite"] == 0


def test_concurrent_append_makes_the_executor_replan(lakehouse):
    from phlo_lakehouse import Conflict
    from phlo_lakehouse.demo import demo_rows

    handle = seed_demo_table(lakehouse, "raw.events", commits=5, rows_per_commit=10)
    op = RewriteManifestsOperation()
    plan = op.plan(handle)
    lakehouse.get_table("raw.events").table.append(demo_rows(1000, 5))
    with pytest.raises(Conflict):
        op.execute(handle, plan)
    result = OperationExecutor(lakehouse).run(op, "raw.events")
    assert result.committed
    assert len(rows_of(lakehouse.get_table("raw.events"))) == 55


def test_bad_inputs(lakehouse):
    with pytest.raises(InvalidSize):
        RewriteManifestsOperation(target_manifest_size="lots")
    handle = seed_demo_table(lakehouse, "raw.events", commits=2, rows_per_commit=10)
    handle.table.manage_snapshots().create_tag(handle.snapshot_id, "v1").commit()
    with pytest.raises(InvalidInput):
        OperationExecutor(lakehouse).run(RewriteManifestsOperation(), "raw.events", ref="v1")
