"""ExpireSnapshotsOperation on real SQLite catalogs: Iceberg's retention rules, the single commit,
exact file deletion, dry runs, bad input and concurrent changes."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from phlo_lakehouse import Conflict, InvalidConfig, InvalidDuration, InvalidInput, LakehouseTable
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.commit import commit_updates
from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.listing import list_storage, normalize_location

TABLE = "raw.events"
DAY_MS = 86_400_000
ROWS = 8
LATER = timedelta(days=10)
FIGURES = [
    "snapshots_to_expire",
    "refs_to_remove",
    "snapshots_retained",
    "data_files_to_delete",
    "delete_files_to_delete",
    "manifests_to_delete",
    "manifest_lists_to_delete",
    "statistics_files_to_delete",
]


def _history(lakehouse, commits=4, properties=None, name=TABLE) -> LakehouseTable:
    """A table with ``commits`` appends on main, each at a distinct millisecond."""
    handle = seed_demo_table(
        lakehouse, name, commits=1, rows_per_commit=ROWS, properties=properties
    )
    for i in range(1, commits):
        _append(handle.table, i)
    return lakehouse.get_table(name)


def _append(table, i, branch="main"):
    time.sleep(0.005)
    table.append(demo_rows(i * ROWS, ROWS), branch=branch)


def _set_retention(lakehouse, branch, **retention) -> LakehouseTable:
    """Set a branch's own retention settings (after its appends: PyIceberg 0.12 drops a ref's
    retention settings when it commits to that branch)."""
    table = lakehouse.get_table(TABLE, ref=branch).table
    head = table.metadata.refs[branch].snapshot_id
    table.manage_snapshots().create_branch(head, branch, **retention).commit()
    return lakehouse.get_table(TABLE, ref=branch)


def _main_line(handle) -> list[int]:
    """Snapshot ids of main's history, oldest first."""
    from pyiceberg.table.snapshots import ancestors_of

    metadata = handle.table.metadata
    return [s.snapshot_id for s in ancestors_of(handle.table.current_snapshot(), metadata)][::-1]


def _later() -> datetime:
    return datetime.now(UTC) + LATER


def _at(handle, snapshot_id, plus=timedelta(0)) -> datetime:
    millis = handle.table.snapshot_by_id(snapshot_id).timestamp_ms
    return datetime.fromtimestamp(millis / 1000, tz=UTC) + plus


def _run(lakehouse, op, ref=None, *, dry_run=False):
    return OperationExecutor(lakehouse).run(op, TABLE, ref, dry_run=dry_run)


def _snapshot_ids(lakehouse) -> set[int]:
    return {s.snapshot_id for s in lakehouse.get_table(TABLE).table.snapshots()}


def _rows(handle) -> list[dict]:
    return handle.to_arrow().sort_by("event_id").to_pylist()


def _exists(handle, path) -> bool:
    return handle.table.io.new_input(path).exists()


def _deleted(result) -> set[str]:
    return {p for paths in result.details["files_to_delete"].values() for p in paths}


def _non_metadata(reach) -> set[str]:
    return reach.all() - reach.metadata


def test_defaults_expire_everything_older_than_five_days_but_the_head(lakehouse):
    handle = _history(lakehouse, commits=4)
    head = handle.snapshot_id

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert result.committed
    assert result.figures["snapshots_to_expire"] == 3
    assert result.figures["snapshots_retained"] == 1
    assert _snapshot_ids(lakehouse) == {head}
    assert result.snapshot_id_before == result.snapshot_id_after == head


def test_defaults_keep_snapshots_younger_than_five_days(lakehouse):
    handle = _history(lakehouse, commits=3)

    result = _run(lakehouse, ExpireSnapshotsOperation())

    assert not result.committed
    assert result.figures["snapshots_to_expire"] == 0
    assert result.figures["snapshots_retained"] == 3
    assert lakehouse.get_table(TABLE).table.metadata_location == handle.table.metadata_location


def test_retain_last_keeps_that_many_snapshots_of_main(lakehouse):
    handle = _history(lakehouse, commits=5)

    result = _run(lakehouse, ExpireSnapshotsOperation(retain_last=3, now=_later()))

    assert _snapshot_ids(lakehouse) == set(_main_line(handle)[-3:])
    assert result.details["expired_snapshot_ids"] == sorted(_main_line(handle)[:2])


def test_branch_and_tag_heads_are_never_expired(lakehouse):
    handle = _history(lakehouse, commits=4)
    first, second, *_ = _main_line(handle)
    table = handle.table
    table.manage_snapshots().create_tag(first, "v1").create_branch(second, "dev").commit()
    _append(table, 100, branch="dev")
    tag_rows = _rows(lakehouse.get_table(TABLE, ref="v1"))
    dev = lakehouse.get_table(TABLE, ref="dev")
    dev_rows = _rows(dev)

    _run(lakehouse, ExpireSnapshotsOperation(retain_last=1, now=_later()))

    assert _snapshot_ids(lakehouse) == {first, dev.snapshot_id, handle.snapshot_id}
    assert _rows(lakehouse.get_table(TABLE, ref="v1")) == tag_rows
    assert _rows(lakehouse.get_table(TABLE, ref="dev")) == dev_rows


def test_branch_min_snapshots_to_keep_overrides_retain_last(lakehouse):
    handle = _history(lakehouse, commits=4)
    table = handle.table
    table.manage_snapshots().create_branch(handle.snapshot_id, "dev").commit()
    _append(table, 100, branch="dev")
    _append(table, 101, branch="dev")
    dev = _set_retention(lakehouse, "dev", min_snapshots_to_keep=3)

    _run(lakehouse, ExpireSnapshotsOperation(retain_last=1, now=_later()))

    assert _snapshot_ids(lakehouse) == {
        dev.snapshot_id,
        dev.snapshot.parent_snapshot_id,
        handle.snapshot_id,
    }


def test_branch_max_snapshot_age_keeps_what_the_default_would_expire(lakehouse):
    handle = _history(lakehouse, commits=4)
    handle.table.manage_snapshots().create_branch(
        handle.snapshot_id, "dev", max_snapshot_age_ms=30 * DAY_MS
    ).commit()

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert not result.committed
    assert _snapshot_ids(lakehouse) == set(_main_line(handle))


def test_branch_max_snapshot_age_overrides_an_explicit_older_than(lakehouse):
    handle = _history(lakehouse, commits=1)
    table = handle.table
    table.manage_snapshots().create_branch(handle.snapshot_id, "dev").commit()
    for i in range(1, 4):
        _append(table, i, branch="dev")
    dev = _set_retention(lakehouse, "dev", max_snapshot_age_ms=DAY_MS)

    result = _run(lakehouse, ExpireSnapshotsOperation(older_than="30d", now=_later()))

    assert _snapshot_ids(lakehouse) == {handle.snapshot_id, dev.snapshot_id}
    assert result.figures["snapshots_to_expire"] == 2


def test_max_ref_age_removes_old_tags_and_branches_but_never_main(lakehouse):
    handle = _history(lakehouse, commits=3)
    first = _main_line(handle)[0]
    table = handle.table
    (
        table.manage_snapshots()
        .create_tag(first, "old", max_ref_age_ms=DAY_MS)
        .create_branch(first, "stale", max_ref_age_ms=DAY_MS)
        .create_tag(first, "kept", max_ref_age_ms=30 * DAY_MS)
        .create_branch(handle.snapshot_id, "main", max_ref_age_ms=DAY_MS)
        .commit()
    )

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert result.details["removed_refs"] == ["old", "stale"]
    assert result.figures["refs_to_remove"] == 2
    assert set(lakehouse.get_table(TABLE).table.metadata.refs) == {"main", "kept"}
    assert _snapshot_ids(lakehouse) == {first, handle.snapshot_id}


def test_removed_ref_no_longer_protects_its_snapshot(lakehouse):
    handle = _history(lakehouse, commits=3)
    first = _main_line(handle)[0]
    handle.table.manage_snapshots().create_tag(first, "old", max_ref_age_ms=DAY_MS).commit()

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert first in result.details["expired_snapshot_ids"]
    assert _snapshot_ids(lakehouse) == {handle.snapshot_id}


def test_table_property_min_snapshots_to_keep_is_the_default_retain_last(lakehouse):
    handle = _history(
        lakehouse, commits=4, properties={"history.expire.min-snapshots-to-keep": "3"}
    )

    _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert _snapshot_ids(lakehouse) == set(_main_line(handle)[-3:])


def test_table_property_max_snapshot_age_is_the_default_older_than(lakehouse):
    handle = _history(
        lakehouse,
        commits=3,
        properties={"history.expire.max-snapshot-age-ms": str(30 * DAY_MS)},
    )

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert not result.committed
    assert _snapshot_ids(lakehouse) == set(_main_line(handle))


def test_explicit_arguments_override_table_properties(lakehouse):
    handle = _history(
        lakehouse,
        commits=4,
        properties={
            "history.expire.max-snapshot-age-ms": str(30 * DAY_MS),
            "history.expire.min-snapshots-to-keep": "4",
        },
    )

    _run(lakehouse, ExpireSnapshotsOperation(older_than="5d", retain_last=2, now=_later()))

    assert _snapshot_ids(lakehouse) == set(_main_line(handle)[-2:])


def test_table_property_max_ref_age_applies_to_refs_without_their_own(lakehouse):
    handle = _history(
        lakehouse, commits=2, properties={"history.expire.max-ref-age-ms": str(DAY_MS)}
    )
    handle.table.manage_snapshots().create_tag(_main_line(handle)[0], "v1").commit()

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert result.details["removed_refs"] == ["v1"]
    assert set(lakehouse.get_table(TABLE).table.metadata.refs) == {"main"}


def test_unreferenced_snapshots_are_kept_only_while_newer_than_the_cutoff(lakehouse):
    handle = _history(lakehouse, commits=4)
    line = _main_line(handle)
    handle.table.manage_snapshots().set_current_snapshot(line[1]).commit()

    young = _run(lakehouse, ExpireSnapshotsOperation(retain_last=2))
    old = _run(lakehouse, ExpireSnapshotsOperation(retain_last=2, now=_later()))

    assert young.figures["snapshots_to_expire"] == 0
    assert old.details["expired_snapshot_ids"] == sorted(line[2:])
    assert _snapshot_ids(lakehouse) == set(line[:2])


def test_deleted_files_are_exactly_reachable_before_minus_after(lakehouse):
    handle = _history(lakehouse, commits=4)
    first, second, *_ = _main_line(handle)
    table = handle.table
    table.manage_snapshots().create_tag(first, "v1").create_branch(second, "dev").commit()
    _append(table, 100, branch="dev")
    before = _non_metadata(reachable_files(lakehouse.get_table(TABLE).table))
    rows = {ref: _rows(lakehouse.get_table(TABLE, ref=ref)) for ref in ("main", "v1", "dev")}

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    after_table = lakehouse.get_table(TABLE)
    after = reachable_files(after_table.table)
    assert _deleted(result) == before - _non_metadata(after)
    assert all(_exists(after_table, path) for path in after.all())
    assert not any(_exists(after_table, path) for path in _deleted(result))
    assert {ref: _rows(lakehouse.get_table(TABLE, ref=ref)) for ref in rows} == rows


def test_overwrite_and_delete_history_leaves_only_live_data_files(lakehouse):
    handle = _history(lakehouse, commits=2, properties={"format-version": "2"})
    handle.table.delete("event_id < 4")
    handle.table.overwrite(demo_rows(1000, ROWS))
    current = lakehouse.get_table(TABLE)
    live_paths = current.table.inspect.files()["file_path"].to_pylist()
    live = {normalize_location(p)[2] for p in live_paths}

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    data_dir = f"{current.table.location()}/data"
    on_disk = {normalize_location(f.path)[2] for f in list_storage(current.table.io, data_dir)}
    assert on_disk == live
    deleted_data = result.details["files_to_delete"]["data_files"]
    assert result.figures["data_files_to_delete"] == len(deleted_data) > 0
    assert _rows(lakehouse.get_table(TABLE)) == _rows(current)


def test_dry_run_figures_and_details_equal_the_real_run(lakehouse):
    handle = _history(lakehouse, commits=4)
    first = _main_line(handle)[0]
    handle.table.manage_snapshots().create_tag(first, "old", max_ref_age_ms=1).commit()
    op = ExpireSnapshotsOperation(retain_last=2, now=_later())

    dry = _run(lakehouse, op, dry_run=True)
    real = _run(lakehouse, op)

    assert dry.dry_run and not dry.committed
    assert dict(dry.figures) == dict(real.figures)
    assert dict(dry.details) == dict(real.details)


def test_dry_run_changes_nothing(lakehouse):
    handle = _history(lakehouse, commits=3)
    files = _non_metadata(reachable_files(handle.table))

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()), dry_run=True)

    assert result.figures["snapshots_to_expire"] == 2
    assert lakehouse.get_table(TABLE).table.metadata_location == handle.table.metadata_location
    assert all(_exists(handle, path) for path in files)


def test_figures_come_in_a_stable_order(lakehouse):
    _history(lakehouse, commits=2)

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert list(result.figures) == list(result.plan.figures) == FIGURES


def test_the_commit_prunes_old_metadata_files_when_the_table_asks_for_it(lakehouse):
    handle = _history(
        lakehouse,
        commits=4,
        properties={
            "write.metadata.delete-after-commit.enabled": "true",
            "write.metadata.previous-versions-max": "2",
        },
    )
    oldest_logged = handle.table.metadata.metadata_log[0].metadata_file
    assert _exists(handle, oldest_logged)

    _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    after = lakehouse.get_table(TABLE)
    assert not _exists(after, oldest_logged)
    assert len(after.table.metadata.metadata_log) == 2
    metadata_dir = f"{after.table.location()}/metadata"
    on_disk = [f for f in list_storage(after.table.io, metadata_dir) if f.path.endswith(".json")]
    assert len(on_disk) == 3


def test_statistics_of_expired_snapshots_are_removed_and_their_files_deleted(lakehouse):
    from pyiceberg.table.statistics import PartitionStatisticsFile, StatisticsFile
    from pyiceberg.table.update import SetPartitionStatisticsUpdate, SetStatisticsUpdate

    handle = _history(lakehouse, commits=3)
    first = _main_line(handle)[0]
    paths = []
    for kind in ("stats", "partition-stats"):
        path = f"{handle.table.location()}/metadata/{first}-{kind}.puffin"
        with handle.table.io.new_output(path).create() as out:
            out.write(b"PFA1")
        paths.append(path)
    stats = StatisticsFile(
        snapshot_id=first,
        statistics_path=paths[0],
        file_size_in_bytes=4,
        file_footer_size_in_bytes=4,
        blob_metadata=[],
    )
    part = PartitionStatisticsFile(
        snapshot_id=first, statistics_path=paths[1], file_size_in_bytes=4
    )
    updates = [
        SetStatisticsUpdate(statistics=stats),
        SetPartitionStatisticsUpdate(partition_statistics=part),
    ]
    commit_updates(handle.table, updates, [])

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    after = lakehouse.get_table(TABLE).table.metadata
    assert result.figures["statistics_files_to_delete"] == 2
    assert after.statistics == [] and after.partition_statistics == []
    assert not any(_exists(handle, path) for path in paths)


def test_expiry_covers_the_whole_table_whatever_ref_the_handle_is_on(lakehouse):
    handle = _history(lakehouse, commits=4)
    handle.table.manage_snapshots().create_branch(handle.snapshot_id, "dev").commit()
    _append(handle.table, 100, branch="dev")
    dev = lakehouse.get_table(TABLE, ref="dev")

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()), ref="dev")

    assert result.ref == "dev"
    assert result.snapshot_id_before == result.snapshot_id_after == dev.snapshot_id
    assert _snapshot_ids(lakehouse) == {handle.snapshot_id, dev.snapshot_id}


def test_without_delete_files_only_the_metadata_changes(lakehouse):
    handle = _history(lakehouse, commits=3)
    files = _non_metadata(reachable_files(handle.table))

    result = _run(lakehouse, ExpireSnapshotsOperation(delete_files=False, now=_later()))

    assert result.committed
    assert _snapshot_ids(lakehouse) == {handle.snapshot_id}
    assert all(_exists(handle, path) for path in files)
    assert result.figures["data_files_to_delete"] == result.figures["manifests_to_delete"] == 0
    assert "delete_files=False" in result.details["files_left_in_place"]


def test_nessie_tables_refuse_to_delete_files_and_say_why(lakehouse):
    handle = _history(lakehouse, commits=2)
    nessie = LakehouseTable(handle.identifier, "main", handle.table, nessie=True)

    with pytest.raises(InvalidInput) as info:
        ExpireSnapshotsOperation(now=_later()).plan(nessie)

    assert "delete_files=False" in info.value.hint and "Nessie GC" in info.value.hint
    plan = ExpireSnapshotsOperation(delete_files=False, now=_later()).plan(nessie)
    assert plan.figures["snapshots_to_expire"] == 1


def test_a_table_without_snapshots_has_nothing_to_expire(lakehouse):
    from phlo_lakehouse.demo import demo_schema

    lakehouse.catalog().create_namespace("raw")
    lakehouse.catalog().create_table(("raw", "events"), schema=demo_schema())

    result = _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert not result.committed
    assert result.figures["snapshots_retained"] == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"older_than": "-1d"}, InvalidDuration),
        ({"older_than": "5 fortnights"}, InvalidDuration),
        ({"older_than": -5}, InvalidDuration),
        ({"older_than": timedelta(days=-1)}, InvalidDuration),
        ({"retain_last": 0}, InvalidInput),
        ({"retain_last": -1}, InvalidInput),
        ({"retain_last": "x"}, InvalidInput),
        ({"retain_last": 1.5}, InvalidInput),
        ({"retain_last": True}, InvalidInput),
    ],
)
def test_bad_arguments_fail_before_anything_changes(lakehouse, kwargs, error):
    handle = _history(lakehouse, commits=2)

    with pytest.raises(error) as info:
        _run(lakehouse, ExpireSnapshotsOperation(**kwargs, now=_later()))

    assert info.value.hint
    assert lakehouse.get_table(TABLE).table.metadata_location == handle.table.metadata_location


def test_a_malformed_table_property_fails_before_anything_changes(lakehouse):
    handle = _history(
        lakehouse, commits=2, properties={"history.expire.min-snapshots-to-keep": "many"}
    )

    with pytest.raises(InvalidConfig) as info:
        _run(lakehouse, ExpireSnapshotsOperation(now=_later()))

    assert "history.expire.min-snapshots-to-keep" in str(info.value)
    assert lakehouse.get_table(TABLE).table.metadata_location == handle.table.metadata_location


def test_a_ref_moved_between_plan_and_execute_is_a_conflict(lakehouse):
    handle = _history(lakehouse, commits=3)
    op = ExpireSnapshotsOperation(now=_later())
    plan = op.plan(handle)
    _append(lakehouse.get_table(TABLE).table, 100)
    moved = lakehouse.get_table(TABLE).table.metadata_location

    with pytest.raises(Conflict):
        op.execute(handle, plan)

    assert lakehouse.get_table(TABLE).table.metadata_location == moved
    assert len(_snapshot_ids(lakehouse)) == 4


def test_a_tag_created_on_an_expiring_snapshot_after_the_plan_is_a_conflict(lakehouse):
    handle = _history(lakehouse, commits=3)
    op = ExpireSnapshotsOperation(now=_later())
    plan = op.plan(handle)
    first = plan.details["expired_snapshot_ids"][0]
    lakehouse.get_table(TABLE).table.manage_snapshots().create_tag(first, "keep").commit()

    with pytest.raises(Conflict):
        op.execute(handle, plan)

    assert lakehouse.get_table(TABLE, ref="keep").snapshot_id == first


class _RacedExpiry(ExpireSnapshotsOperation):
    """Appends to main from another table object right after its first plan, as a concurrent
    writer would."""

    def __init__(self, lakehouse, **kwargs):
        super().__init__(**kwargs)
        self.lakehouse = lakehouse
        self.raced = False

    def plan(self, table):
        plan = super().plan(table)
        if not self.raced:
            self.raced = True
            _append(self.lakehouse.get_table(TABLE).table, 100)
        return plan


def test_the_executor_replans_after_a_conflict_and_succeeds(lakehouse):
    _history(lakehouse, commits=3)
    op = _RacedExpiry(lakehouse, now=_later())

    result = _run(lakehouse, op)

    assert result.committed
    assert result.attempts == 2
    racing_head = lakehouse.get_table(TABLE).snapshot_id
    assert result.snapshot_id_after == racing_head
    assert _snapshot_ids(lakehouse) == {racing_head}
    assert len(_rows(lakehouse.get_table(TABLE))) == 4 * ROWS
