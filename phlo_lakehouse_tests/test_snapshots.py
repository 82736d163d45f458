"""SnapshotManager on Iceberg table refs (embedded SQLite catalog): every step verified by rows."""

from datetime import UTC, datetime, timedelta

import pytest

from phlo_lakehouse import (
    CatalogSettings,
    Conflict,
    IcebergLakehouse,
    InvalidDuration,
    InvalidInput,
    LakehouseError,
    RefNotFound,
    SnapshotNotFound,
)
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations.ref_ops import CreateRefOperation
from phlo_lakehouse.operations.snapshot_ops import RollbackOperation
from phlo_lakehouse.snapshots import SnapshotManager
from phlo_lakehouse.wap import AuditFailed, WriteAuditPublish

T = "db.events"


def ids(arrow) -> list[int]:
    return sorted(arrow.column("event_id").to_pylist())


@pytest.fixture
def seeded(lakehouse):
    """db.events with three appends of 10 rows: ids 0-9, 10-19, 20-29."""
    seed_demo_table(lakehouse, T, commits=3, rows_per_commit=10, partitioned=False)
    manager = SnapshotManager(lakehouse)
    s3, s2, s1 = (s.snapshot_id for s in manager.list_snapshots(T))
    return lakehouse, manager, (s1, s2, s3)


def rows(lakehouse, ref=None) -> list[int]:
    return ids(lakehouse.get_table(T, ref).to_arrow())


def location(lakehouse) -> str:
    return lakehouse.get_table(T).table.metadata_location


def test_list_and_get_snapshots(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    listed = manager.list_snapshots(T)
    assert [s.snapshot_id for s in listed] == [s3, s2, s1]
    assert [s.parent_id for s in listed] == [s2, s1, None]
    assert {s.operation for s in listed} == {"append"}
    assert listed[0].refs == ("main",) and listed[1].refs == ()
    assert listed[0].summary["total-records"] == "30"
    assert listed[0].timestamp.tzinfo is not None
    info = manager.get_snapshot(T, s2)
    assert (info.snapshot_id, info.parent_id, info.summary["total-records"]) == (s2, s1, "20")
    assert info.to_dict()["refs"] == []


def test_time_travel_by_snapshot_timestamp_and_tag(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    assert ids(manager.read(T, snapshot_id=s1)) == list(range(10))
    manager.create_tag(T, "v2", snapshot_id=s2)
    assert ids(manager.read(T, tag="v2")) == list(range(20))
    at_s2 = manager.get_snapshot(T, s2).timestamp
    assert ids(manager.read(T, as_of=at_s2)) == list(range(20))
    assert ids(manager.read(T, as_of=int(at_s2.timestamp() * 1000) - 1)) == list(range(10))
    assert manager.read(T, snapshot_id=s1, limit=3).num_rows == 3
    with pytest.raises(SnapshotNotFound):
        manager.read(T, as_of=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="at most one"):
        manager.read(T, snapshot_id=s1, tag="v2")


def test_rollback_by_snapshot_and_by_timestamp(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    before = location(lakehouse)
    dry = manager.rollback_to_snapshot(T, s2, dry_run=True)
    assert dry.dry_run and not dry.committed
    assert dict(dry.figures) == {
        "snapshot_id_from": s3,
        "snapshot_id_to": s2,
        "records_before": 30,
        "records_after": 20,
    }
    assert location(lakehouse) == before and rows(lakehouse) == list(range(30))

    result = manager.rollback_to_snapshot(T, s2)
    assert result.committed and result.snapshot_id_after == s2
    assert rows(lakehouse) == list(range(20))

    at_s2 = manager.get_snapshot(T, s2).timestamp
    manager.rollback_to_timestamp(T, at_s2)  # strictly before s2: s1
    assert rows(lakehouse) == list(range(10))


def test_set_current_to_a_non_ancestor(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    manager.rollback_to_snapshot(T, s1)
    lakehouse.get_table(T).table.append(demo_rows(100, 5))  # s4, child of s1
    assert rows(lakehouse) == [*range(10), *range(100, 105)]
    with pytest.raises(InvalidInput, match="not an ancestor"):
        manager.rollback_to_snapshot(T, s3)  # s3 is on the abandoned lineage
    result = manager.set_current_snapshot(T, s3)
    assert result.committed and rows(lakehouse) == list(range(30))
    s4 = result.snapshot_id_before
    manager.set_current_snapshot(T, s4)
    assert rows(lakehouse) == [*range(10), *range(100, 105)]


def test_branch_with_retention_write_and_fast_forward(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    manager.create_branch(
        T,
        "audit",
        snapshot_id=s2,
        max_ref_age="7d",
        max_snapshot_age="2d",
        min_snapshots_to_keep=3,
    )
    retention = (7 * 86_400_000, 2 * 86_400_000, 3)

    def audit_retention():
        ref = lakehouse.get_table(T).table.metadata.refs["audit"]
        return (ref.max_ref_age_ms, ref.max_snapshot_age_ms, ref.min_snapshots_to_keep)

    assert audit_retention() == retention and rows(lakehouse, "audit") == list(range(20))
    manager.fast_forward(T, "audit", "main")  # our branch moves keep the retention
    assert rows(lakehouse, "audit") == list(range(30)) and audit_retention() == retention
    manager.rollback_to_snapshot(T, s1, ref="audit")
    assert rows(lakehouse, "audit") == list(range(10)) and audit_retention() == retention
    with pytest.raises(InvalidInput, match="fast-forward"):
        manager.fast_forward(T, "main", "audit")  # main (s3) is no ancestor of audit (s1)

    manager.fast_forward(T, "audit", "main")
    lakehouse.get_table(T).table.append(demo_rows(200, 5), branch="audit")
    assert rows(lakehouse, "audit") == [*range(30), *range(200, 205)]
    assert rows(lakehouse) == list(range(30))
    result = manager.fast_forward(T, "main", "audit")
    assert result.committed and rows(lakehouse) == [*range(30), *range(200, 205)]
    assert result.snapshot_id_after == lakehouse.get_table(T, "audit").snapshot_id


def test_cherry_pick_an_append_onto_a_branch(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    manager.create_branch(T, "dev", snapshot_id=s1, min_snapshots_to_keep=2)
    picked = manager.cherry_pick(T, s3, onto="dev")
    assert picked.committed and dict(picked.figures)["added_data_files"] >= 1
    assert rows(lakehouse, "dev") == [*range(10), *range(20, 30)]
    head = lakehouse.get_table(T, "dev").snapshot
    assert head.parent_snapshot_id == s1 and head.snapshot_id != s3
    assert head.summary.operation.value == "append"
    assert head.summary.additional_properties["source-snapshot-id"] == str(s3)
    assert lakehouse.get_table(T).table.metadata.refs["dev"].min_snapshots_to_keep == 2
    assert rows(lakehouse) == list(range(30))  # main untouched

    with pytest.raises(InvalidInput, match="already part"):
        manager.cherry_pick(T, s3, onto="dev")
    lakehouse.get_table(T).table.delete("event_id < 5")
    deleting = lakehouse.get_table(T).snapshot_id
    with pytest.raises(InvalidInput, match="only appends"):
        manager.cherry_pick(T, deleting, onto="dev")


def test_tags_and_ref_removal(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    manager.create_tag(T, "v1", snapshot_id=s1, max_ref_age="30d")
    assert lakehouse.get_table(T).table.metadata.refs["v1"].max_ref_age_ms == 30 * 86_400_000
    assert manager.get_snapshot(T, s1).refs == ("v1",)
    assert rows(lakehouse, "v1") == list(range(10))
    with pytest.raises(InvalidInput, match="only branches move"):
        manager.rollback_to_snapshot(T, s1, ref="v1")
    with pytest.raises(InvalidInput, match="already has"):
        manager.create_tag(T, "v1")
    with pytest.raises(InvalidInput, match="no snapshot retention"):
        manager.run(CreateRefOperation("v9", kind="tag", max_snapshot_age="1d"), T)
    manager.remove_ref(T, "v1")
    with pytest.raises(RefNotFound):
        lakehouse.get_table(T, "v1")


def test_expire_delegates_to_the_expire_operation(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    now = datetime.now(UTC) + timedelta(days=30)
    result = manager.expire_snapshots(T, older_than="1d", retain_last=1, now=now, dry_run=True)
    assert result.operation == "expire" and result.figures["snapshots_to_expire"] == 2


@pytest.mark.parametrize(
    "action",
    [
        lambda m, s: m.rollback_to_snapshot(T, 123),
        lambda m, s: m.set_current_snapshot(T, 123),
        lambda m, s: m.cherry_pick(T, 123, onto="main"),
        lambda m, s: m.create_tag(T, "t1", snapshot_id=123),
        lambda m, s: m.get_snapshot(T, 123),
        lambda m, s: m.read(T, snapshot_id=123),
        lambda m, s: m.rollback_to_timestamp(T, "1999-01-01T00:00:00+00:00"),
        lambda m, s: m.fast_forward(T, "main", "nope"),
        lambda m, s: m.fast_forward(T, "nope", "main"),
        lambda m, s: m.remove_ref(T, "nope"),
        lambda m, s: m.read(T, tag="nope"),
        lambda m, s: m.create_branch(T, "b1", max_ref_age="7x"),
        lambda m, s: m.create_branch(T, "b1", min_snapshots_to_keep=0),
        lambda m, s: m.create_branch(T, "bad name"),
        lambda m, s: m.rollback_to_timestamp(T, "yesterday"),
        lambda m, s: m.remove_ref(T, "main"),
    ],
    ids=[
        "rollback-unknown-snapshot",
        "set-current-unknown",
        "cherry-pick-unknown",
        "tag-unknown-snapshot",
        "get-unknown",
        "read-unknown",
        "rollback-too-old",
        "ff-unknown-target",
        "ff-unknown-branch",
        "remove-unknown",
        "read-unknown-tag",
        "bad-duration",
        "bad-min-keep",
        "bad-ref-name",
        "bad-timestamp",
        "remove-main",
    ],
)
def test_bad_input_fails_before_any_commit(seeded, action):
    lakehouse, manager, snapshots = seeded
    before = location(lakehouse)
    with pytest.raises(LakehouseError) as info:
        action(manager, snapshots)
    error = info.value
    assert isinstance(error, InvalidInput | SnapshotNotFound | RefNotFound | InvalidDuration)
    assert "\n" not in str(error) and error.hint
    assert location(lakehouse) == before


class _Recorder:
    def __init__(self):
        self.seen = []

    def before_plan(self, context):
        self.seen.append((context.operation.name, context.operation.permission, context.dry_run))

    def after(self, context):
        self.seen.append(("after", context.result.committed))

    def on_error(self, context, error):
        self.seen.append(("error", type(error).__name__))


def test_mutations_run_through_the_executor_hooks(tmp_path):
    recorder = _Recorder()
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lh"), hooks=[recorder])
    seed_demo_table(lakehouse, T, commits=2, rows_per_commit=5, partitioned=False)
    manager = SnapshotManager(lakehouse)
    first = manager.list_snapshots(T)[-1].snapshot_id
    manager.create_tag(T, "v1", snapshot_id=first, dry_run=True)
    manager.rollback_to_snapshot(T, first)
    with pytest.raises(SnapshotNotFound):
        manager.set_current_snapshot(T, 1)
    assert recorder.seen == [
        ("create_ref", "manage_snapshots", True),
        ("after", False),
        ("rollback", "manage_snapshots", False),
        ("after", True),
        ("set_current_snapshot", "manage_snapshots", False),
        ("error", "SnapshotNotFound"),
    ]


def test_a_concurrent_commit_is_a_conflict_and_the_executor_replans(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded

    class RacingRollback(RollbackOperation):
        raced = False

        def plan(self, table):
            plan = super().plan(table)
            if not self.raced:  # someone appends between our plan and our commit
                self.raced = True
                lakehouse.get_table(T).table.append(demo_rows(500, 1))
            return plan

    result = manager.run(RacingRollback(s1), T)
    assert result.attempts == 2 and result.committed
    assert rows(lakehouse) == list(range(10))


# -- write-audit-publish on Iceberg table branches ---------------------------------------------


def test_wap_publishes_when_audits_pass(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded

    def has_rows(run):
        return run.read(T).num_rows == 35

    def no_null_ids(run):
        assert run.read(T).column("event_id").null_count == 0

    with WriteAuditPublish(lakehouse, [T], audits=[has_rows, no_null_ids]) as run:
        run.append(T, demo_rows(100, 5))
        assert rows(lakehouse) == list(range(30))  # main does not see the write yet
        assert rows(lakehouse, run.branch) == [*range(30), *range(100, 105)]
    result = run.result
    assert result.published and result.failed_audits == () and result.branch_deleted
    assert [a.name for a in result.audits] == ["has_rows", "no_null_ids"]
    assert rows(lakehouse) == [*range(30), *range(100, 105)]
    assert run.branch not in lakehouse.get_table(T).table.metadata.refs
    assert result.details["snapshot_ids"][T] == lakehouse.get_table(T).snapshot_id


def test_wap_failed_audit_leaves_main_untouched(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded

    def passes(run):
        return True

    def ids_below_50(run):
        return max(run.read(T).column("event_id").to_pylist()) < 50

    def raises(run):
        raise ValueError("row count drifted")

    with pytest.raises(AuditFailed) as info:
        with WriteAuditPublish(lakehouse, [T], audits=[passes, ids_below_50, raises]) as run:
            run.append(T, demo_rows(100, 5))
    error = info.value
    assert "ids_below_50" in str(error) and "raises" in str(error) and "\n" not in str(error)
    assert error.result.failed_audits == ("ids_below_50", "raises")
    assert "ValueError: row count drifted" in error.result.audits[2].message
    # The table's metadata holds the audit branch now; main itself did not move.
    assert lakehouse.get_table(T).snapshot_id == s3 and rows(lakehouse) == list(range(30))
    assert not error.result.branch_deleted  # kept for inspection
    assert rows(lakehouse, run.branch) == [*range(30), *range(100, 105)]

    quiet = WriteAuditPublish(lakehouse, [T], audits=[raises], cleanup="always")
    quiet.start().append(T, demo_rows(200, 1))
    result = quiet.publish(raise_on_failure=False)
    assert not result.published and result.branch_deleted
    assert quiet.branch not in lakehouse.get_table(T).table.metadata.refs


def test_wap_aborts_on_error_and_refuses_a_moved_main(seeded):
    lakehouse, manager, (s1, s2, s3) = seeded
    with pytest.raises(RuntimeError):
        with WriteAuditPublish(lakehouse, [T], cleanup="always") as run:
            run.append(T, demo_rows(100, 5))
            raise RuntimeError("writer crashed")
    assert run.result.branch_deleted and not run.result.published
    assert rows(lakehouse) == list(range(30))

    other = "db.other"
    seed_demo_table(lakehouse, other, commits=1, rows_per_commit=3, partitioned=False)
    run = WriteAuditPublish(lakehouse, [T, other]).start()
    run.append(T, demo_rows(100, 5)).append(other, demo_rows(100, 5))
    lakehouse.get_table(other).table.append(demo_rows(900, 1))  # main of `other` moves
    with pytest.raises(Conflict, match="moved"):
        run.publish()
    assert rows(lakehouse) == list(range(30))  # `T` was not published either

    with pytest.raises(InvalidInput, match="not part"):
        run.append("db.unlisted", demo_rows(0, 1))
    with pytest.raises(InvalidInput, match="cleanup"):
        WriteAuditPublish(lakehouse, [T], cleanup="sometimes")
