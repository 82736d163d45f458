"""Nessie references against the real Nessie server: branches, diffs, merges (with conflicts),
tags, and SnapshotManager's rollback / set-current / fast-forward / cherry-pick on Nessie refs.

The server is shared: each test works in a namespace of its own and, where it moves branches, on
branches of its own, and checks its own tables only (others may commit to ``main`` meanwhile).
"""

from collections.abc import Iterator

import pytest

from phlo_lakehouse import (
    Conflict,
    InvalidInput,
    LakehouseError,
    RefNotFound,
    SnapshotNotFound,
)
from phlo_lakehouse.demo import demo_rows, demo_schema
from phlo_lakehouse.snapshots import SnapshotManager
from phlo_lakehouse.wap import AuditFailed, WriteAuditPublish

pytestmark = [pytest.mark.nessie, pytest.mark.timeout(300)]


def ids(arrow) -> list[int]:
    return sorted(arrow.column("event_id").to_pylist())


@pytest.fixture
def refs_made(nessie_lakehouse) -> Iterator[list[str]]:
    """Names of references a test creates; deleted afterwards (the server is shared)."""
    made: list[str] = []
    yield made
    existing = {r.name for r in nessie_lakehouse.nessie.list()}
    for name in reversed(made):
        if name in existing:
            nessie_lakehouse.nessie.delete(name)


def create_table(lakehouse, ref: str, name: str, batches: int) -> list[int]:
    """Create ``name`` on ``ref`` and append ``batches`` batches of 10 rows; the snapshot ids."""
    catalog = lakehouse.catalog(ref)
    namespace, _ = name.split(".")
    catalog.create_namespace_if_not_exists(namespace)
    table = catalog.create_table(name, schema=demo_schema())
    snapshots = []
    for i in range(batches):
        table.append(demo_rows(i * 10, 10))
        snapshots.append(table.current_snapshot().snapshot_id)
    return snapshots


def rows(lakehouse, name: str, ref: str) -> list[int]:
    return ids(lakehouse.get_table(name, ref).to_arrow())


def test_branch_diff_merge_and_tag(nessie_lakehouse, unique_name, refs_made):
    lh, refs = nessie_lakehouse, nessie_lakehouse.nessie
    name, dev, tag = f"{unique_name}.events", f"dev_{unique_name}", f"before_{unique_name}"
    (s1,) = create_table(lh, "main", name, 1)
    refs.create_tag(tag, from_ref="main")
    refs.create_branch(dev, from_ref="main")
    refs_made += [tag, dev]

    lh.get_table(name, dev).table.append(demo_rows(100, 5))
    create_table(lh, dev, f"{unique_name}.fresh", 1)
    s2 = lh.get_table(name, dev).snapshot_id

    changes = {c.table: c for c in refs.diff("main", dev) if c.table.startswith(unique_name)}
    assert set(changes) == {name, f"{unique_name}.fresh"}
    changed = changes[name]
    assert (changed.change, changed.snapshot_id_before, changed.snapshot_id_after) == (
        "modified",
        s1,
        s2,
    )
    assert changed.metadata_location_before != changed.metadata_location_after
    assert changed.metadata_location_after == lh.get_table(name, dev).table.metadata_location
    assert changes[f"{unique_name}.fresh"].change == "added"
    assert changes[f"{unique_name}.fresh"].metadata_location_before is None

    dry = refs.merge(dev, onto="main", dry_run=True)
    assert dry.ok and not dry.applied and name in dry.keys
    assert rows(lh, name, "main") == list(range(10))

    merged = refs.merge(dev, onto="main")
    assert merged.applied and merged.target_hash_after != merged.target_hash_before
    assert rows(lh, name, "main") == [*range(10), *range(100, 105)]
    assert lh.table_exists(f"{unique_name}.fresh", "main")
    assert dev in {r.name for r in refs.list()}  # the source branch is kept

    assert rows(lh, name, tag) == list(range(10))  # the tag pins the old state
    assert ids(SnapshotManager(lh).read(name, tag=tag)) == list(range(10))


def test_conflicting_merge_is_reported_by_the_dry_run(nessie_lakehouse, unique_name, refs_made):
    lh, refs = nessie_lakehouse, nessie_lakehouse.nessie
    name, other, dev = f"{unique_name}.events", f"{unique_name}.other", f"dev_{unique_name}"
    create_table(lh, "main", name, 1)
    create_table(lh, "main", other, 1)
    refs.create_branch(dev, from_ref="main")
    refs_made.append(dev)
    lh.get_table(name, dev).table.append(demo_rows(100, 5))
    lh.get_table(other, dev).table.append(demo_rows(100, 5))
    lh.get_table(name, "main").table.append(demo_rows(200, 5))  # both sides change `name`
    main_state = lh.get_table(name, "main").table.metadata_location

    dry = refs.merge(dev, onto="main", dry_run=True)
    assert not dry.ok and dry.conflicts == (name,) and not dry.applied
    assert other in dry.keys and other not in dry.conflicts

    with pytest.raises(Conflict) as info:
        refs.merge(dev, onto="main")
    assert name in str(info.value) and info.value.hint and "\n" not in str(info.value)
    assert lh.get_table(name, "main").table.metadata_location == main_state
    assert rows(lh, other, "main") == list(range(10))  # nothing merged, not even `other`
    assert rows(lh, name, "main") == [*range(10), *range(200, 205)]
    assert dev in {r.name for r in refs.list()}

    refs.assign(dev, "main")  # resolve: start dev again from main, then merge and delete it
    lh.get_table(other, dev).table.append(demo_rows(300, 5))
    result = refs.merge(dev, onto="main", delete_source=True)
    assert result.applied and result.source_deleted
    assert dev not in {r.name for r in refs.list()}
    assert rows(lh, other, "main") == [*range(10), *range(300, 305)]


def test_snapshot_management_on_nessie_refs(nessie_lakehouse, unique_name, refs_made):
    lh, refs = nessie_lakehouse, nessie_lakehouse.nessie
    manager = SnapshotManager(lh)
    work, keep = f"work_{unique_name}", f"keep_{unique_name}"
    name = f"{unique_name}.events"
    refs.create_branch(work, from_ref="main")
    refs_made.append(work)
    s1, s2, s3 = create_table(lh, work, name, 3)
    assert rows(lh, name, work) == list(range(30))

    listed = manager.list_snapshots(name, work)
    assert [s.snapshot_id for s in listed] == [s3, s2, s1]
    assert [s.parent_id for s in listed] == [s2, s1, None]
    assert work in listed[0].refs and listed[0].commit_hash == refs.get(work).hash
    assert listed[1].summary["total-records"] == "20"
    assert ids(manager.read(name, snapshot_id=s1, ref=work)) == list(range(10))
    assert ids(manager.read(name, as_of=listed[1].timestamp, ref=work)) == list(range(20))

    # Rollback = assign the branch to the newest commit with that snapshot.
    refs.create_branch(keep, from_ref=work)  # keeps s3 reachable for set-current later
    refs_made.append(keep)
    dry = manager.rollback_to_snapshot(name, s2, ref=work, dry_run=True)
    assert dry.figures["snapshot_id_to"] == s2 and rows(lh, name, work) == list(range(30))
    result = manager.rollback_to_snapshot(name, s2, ref=work)
    assert result.committed and result.snapshot_id_after == s2
    assert rows(lh, name, work) == list(range(20))
    manager.rollback_to_timestamp(name, listed[1].timestamp, ref=work)  # strictly before s2
    assert rows(lh, name, work) == list(range(10))

    # Set-current to a snapshot that is no ancestor: s3 lives on `keep` only.
    lh.get_table(name, work).table.append(demo_rows(100, 5))
    assert rows(lh, name, work) == [*range(10), *range(100, 105)]
    with pytest.raises(SnapshotNotFound):
        manager.rollback_to_snapshot(name, s3, ref=work)
    manager.set_current_snapshot(name, s3, ref=work)
    assert rows(lh, name, work) == list(range(30))

    # Fast-forward `work` to a branch that is ahead of it; refuse when it is not.
    ahead = f"ahead_{unique_name}"
    refs.create_branch(ahead, from_ref=work)
    refs_made.append(ahead)
    lh.get_table(name, ahead).table.append(demo_rows(200, 5))
    manager.fast_forward(name, work, ahead)
    assert rows(lh, name, work) == [*range(30), *range(200, 205)]
    lh.get_table(name, work).table.append(demo_rows(250, 1))
    lh.get_table(name, ahead).table.append(demo_rows(260, 1))
    with pytest.raises(InvalidInput, match="fast-forward"):
        manager.fast_forward(name, work, ahead)

    # Cherry-pick an append from `ahead` onto `work`: a new snapshot, same files.
    picked_id = lh.get_table(name, ahead).snapshot_id
    head_before = lh.get_table(name, work).snapshot_id
    result = manager.cherry_pick(name, picked_id, onto=work, source_ref=ahead)
    assert result.committed and result.snapshot_id_after not in (picked_id, head_before)
    assert rows(lh, name, work) == [*range(30), *range(200, 205), 250, 260]
    head = lh.get_table(name, work).snapshot
    assert head.summary.additional_properties["source-snapshot-id"] == str(picked_id)
    with pytest.raises(InvalidInput, match="already part"):
        manager.cherry_pick(name, picked_id, onto=work, source_ref=ahead)

    # Tags are Nessie tags; they pin the state and go away with remove_ref.
    tag = f"tag_{unique_name}"
    manager.create_tag(name, tag, ref=work)
    refs_made.append(tag)
    lh.get_table(name, work).table.append(demo_rows(400, 1))
    assert refs.get(tag).kind == "TAG"
    assert ids(manager.read(name, tag=tag)) == [*range(30), *range(200, 205), 250, 260]
    manager.remove_ref(name, tag)
    with pytest.raises(RefNotFound):
        refs.get(tag)


def test_nessie_branch_moves_refuse_to_revert_other_tables(
    nessie_lakehouse, unique_name, refs_made
):
    lh, refs = nessie_lakehouse, nessie_lakehouse.nessie
    manager = SnapshotManager(lh)
    work, name, other = f"work_{unique_name}", f"{unique_name}.events", f"{unique_name}.other"
    refs.create_branch(work, from_ref="main")
    refs_made.append(work)
    s1, _ = create_table(lh, work, name, 2)
    create_table(lh, work, other, 1)
    before = refs.get(work).hash

    with pytest.raises(InvalidInput, match="other table") as info:
        manager.rollback_to_snapshot(name, s1, ref=work)
    assert other in str(info.value) and "allow_other_tables" in info.value.hint
    assert refs.get(work).hash == before
    manager.rollback_to_snapshot(name, s1, ref=work, allow_other_tables=True)
    assert rows(lh, name, work) == list(range(10))
    assert not lh.table_exists(other, work)  # the branch went back before `other` existed


def test_nessie_maintenance_and_bad_input(nessie_lakehouse, unique_name, refs_made):
    lh, refs = nessie_lakehouse, nessie_lakehouse.nessie
    manager = SnapshotManager(lh)
    work, name = f"work_{unique_name}", f"{unique_name}.events"
    refs.create_branch(work, from_ref="main")
    refs_made.append(work)
    create_table(lh, work, name, 2)
    location = lh.get_table(name, work).table.metadata_location
    head = refs.get(work).hash

    with pytest.raises(InvalidInput, match="Nessie"):
        manager.expire_snapshots(name, work, older_than="0s")  # delete_files=True refuses
    assert manager.expire_snapshots(name, work, delete_files=False, dry_run=True).dry_run
    with pytest.raises(InvalidInput, match="Nessie"):
        lh.vacuum(name, work, dry_run=True)

    bad = [
        lambda: manager.rollback_to_snapshot(name, 123, ref=work),
        lambda: manager.set_current_snapshot(name, 123, ref=work),
        lambda: manager.cherry_pick(name, 123, onto=work),
        lambda: manager.read(name, snapshot_id=123, ref=work),
        lambda: manager.fast_forward(name, work, f"nope_{unique_name}"),
        lambda: manager.rollback_to_snapshot(name, 1, ref=f"nope_{unique_name}"),
        lambda: manager.create_branch(name, f"b_{unique_name}", ref=work, max_ref_age="7d"),
        lambda: manager.create_tag(name, work, ref=work),
        lambda: refs.merge(work, onto=work, dry_run=True),
        lambda: refs.assign(work, work, hash="not-a-hash"),
    ]
    for action in bad:
        with pytest.raises(LakehouseError) as info:
            action()
        assert "\n" not in str(info.value) and info.value.hint
    assert lh.get_table(name, work).table.metadata_location == location
    assert refs.get(work).hash == head


def test_write_audit_publish_on_a_nessie_branch(nessie_lakehouse, unique_name, refs_made):
    lh = nessie_lakehouse
    name, fresh = f"{unique_name}.events", f"{unique_name}.fresh"
    create_table(lh, "main", name, 1)

    def five_new_rows(run):
        return run.read(name).num_rows == 15

    wap = WriteAuditPublish(lh, audits=[five_new_rows], branch=f"wap_{unique_name}")
    with wap as run:
        refs_made.append(run.branch)
        run.append(name, demo_rows(100, 5))
        run.catalog.create_table(fresh, schema=demo_schema()).append(demo_rows(0, 2))
        run.append(fresh, demo_rows(50, 1))
        assert rows(lh, name, "main") == list(range(10))
    result = run.result
    assert result.published and result.branch_deleted
    assert sorted(result.tables) == sorted([name, fresh]) and name in result.details["keys"]
    assert rows(lh, name, "main") == [*range(10), *range(100, 105)]
    assert rows(lh, fresh, "main") == [0, 1, 50]

    def always_fails(run):
        return False

    before = lh.get_table(name, "main").table.metadata_location
    failing = WriteAuditPublish(lh, [name], audits=[always_fails], branch=f"bad_{unique_name}")
    refs_made.append(failing.branch)
    with pytest.raises(AuditFailed, match="always_fails"):
        with failing as run:
            run.append(name, demo_rows(300, 5))
    assert lh.get_table(name, "main").table.metadata_location == before
    assert rows(lh, name, failing.branch) == [*range(10), *range(100, 105), *range(300, 305)]
