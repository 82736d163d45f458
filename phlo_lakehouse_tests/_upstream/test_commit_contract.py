"""Contract tests for the PyIceberg internals the commit path relies on (pinned 0.12.0): the
blocked manifest writer and the linear snapshot removal behave as PyIceberg's own.

If PyIceberg is upgraded, these fail first and name the hook that changed.
"""

import inspect

import pytest
from pyiceberg.avro.file import AvroOutputFile
from pyiceberg.manifest import ManifestContent, ManifestWriterV2
from pyiceberg.table.update import AssertRefSnapshotId

from phlo_lakehouse import Conflict
from phlo_lakehouse._upstream.manifest_writer import BLOCK_ENTRIES, manifest_writer
from phlo_lakehouse._upstream.pyiceberg import remove_snapshots_update
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations.commit import commit_updates
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.listing import list_storage


def test_manifest_writer_v2_hooks_we_override_exist():
    assert isinstance(ManifestWriterV2.__dict__["_meta"], property)
    assert callable(ManifestWriterV2.content)
    for method in ("existing", "delete", "add_entry", "to_manifest_file", "new_writer"):
        assert callable(getattr(ManifestWriterV2, method))
    assert callable(ManifestWriterV2._with_partition)
    params = list(inspect.signature(AvroOutputFile.__init__).parameters)
    assert params[:6] == [
        "self",
        "output_file",
        "file_schema",
        "schema_name",
        "record_schema",
        "metadata",
    ]


@pytest.mark.parametrize("deletes", [False, True])
def test_blocked_manifest_writer_round_trips_through_pyiceberg(lakehouse, deletes):
    """Entries written in blocks of BLOCK_ENTRIES (more than one block here) read back, in
    order, through PyIceberg's own manifest reader, with the counts the manifest file states."""
    from pyiceberg.manifest import ManifestEntry, ManifestEntryStatus

    handle = seed_demo_table(lakehouse, "raw.t", commits=1, rows_per_commit=5)
    table = handle.table
    data_file = live_files(table, handle.snapshot).data[0].data_file
    path = f"{table.location()}/metadata/contract-blocked.avro"
    writer = manifest_writer(
        2, table.spec(), table.schema(), table.io.new_output(path), 7, "gzip", deletes=deletes
    )
    count = BLOCK_ENTRIES * 2 + 3
    with writer:
        for sequence in range(count):
            writer.add_entry(
                ManifestEntry.from_args(
                    status=ManifestEntryStatus.EXISTING,
                    snapshot_id=sequence,
                    sequence_number=sequence,
                    file_sequence_number=sequence,
                    data_file=data_file,
                )
            )
    manifest = writer.to_manifest_file()
    expected = ManifestContent.DELETES if deletes else ManifestContent.DATA
    assert manifest.content == expected
    assert manifest.existing_files_count == count
    entries = manifest.fetch_manifest_entry(table.io, discard_deleted=False)
    assert [e.snapshot_id for e in entries] == list(range(count))
    assert {e.data_file.file_path for e in entries} == {data_file.file_path}
    # equality_ids as the spec has it (list<int>): PyIceberg 0.12 writes list<long>, which
    # Java readers reject once an equality delete file is listed.
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.types import IntegerType

    with AvroFile(table.io.new_input(path)) as avro:
        data_file_type = avro.schema.find_field(2).field_type
        assert data_file_type.field(135).field_type.element_type == IntegerType()


def test_delete_manifest_writer_writes_a_deletes_manifest(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.t", commits=1, rows_per_commit=5)
    table = handle.table
    path = f"{table.location()}/metadata/contract-deletes.avro"
    writer = manifest_writer(
        2, table.spec(), table.schema(), table.io.new_output(path), 1, "gzip", deletes=True
    )
    entry = live_files(table, handle.snapshot).data[0]
    from pyiceberg.manifest import ManifestEntry, ManifestEntryStatus

    with writer:
        writer.add_entry(
            ManifestEntry.from_args(
                status=ManifestEntryStatus.EXISTING,
                snapshot_id=1,
                sequence_number=1,
                file_sequence_number=1,
                data_file=entry.data_file,
            )
        )
    manifest = writer.to_manifest_file()
    assert manifest.content == ManifestContent.DELETES


def test_failed_requirement_becomes_conflict_and_changes_nothing(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.t", commits=1, rows_per_commit=5)
    location = handle.table.metadata_location
    with pytest.raises(Conflict) as info:
        commit_updates(handle.table, [], [AssertRefSnapshotId(ref="main", snapshot_id=1)])
    assert "changed concurrently" in str(info.value)
    assert lakehouse.get_table("raw.t").table.metadata_location == location


def test_lost_race_leaves_no_uncommitted_manifests_behind(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.t", commits=6, rows_per_commit=50)
    op = OptimizeOperation()
    plan = op.plan(handle)
    lakehouse.get_table("raw.t").table.append(demo_rows(9_000, 10))
    result = op.execute(handle, plan)
    assert result.attempts == 2
    table = lakehouse.get_table("raw.t").table
    reachable = reachable_files(table).all()
    metadata_dir = f"{table.location()}/metadata"
    stray = [f.path for f in list_storage(table.io, metadata_dir) if f.path not in reachable]
    assert stray == []


def test_linear_remove_snapshots_gives_the_metadata_pyiceberg_gives(lakehouse):
    """Our RemoveSnapshotsUpdate handler (sets, linear) against PyIceberg's (quadratic) on the
    same metadata: same snapshots, parents, snapshot log, refs and statistics."""
    from pyiceberg.table.update import RemoveSnapshotsUpdate, update_table_metadata

    handle = seed_demo_table(lakehouse, "raw.t", commits=6, rows_per_commit=5)
    table = handle.table
    ids = [s.snapshot_id for s in sorted(table.snapshots(), key=lambda s: s.sequence_number)]
    table.manage_snapshots().create_tag(ids[1], "doomed").create_tag(ids[4], "kept").commit()
    metadata = lakehouse.get_table("raw.t").table.metadata
    removed = [ids[0], ids[1], ids[3]]

    ours = update_table_metadata(metadata, (remove_snapshots_update(removed),))
    theirs = update_table_metadata(metadata, (RemoveSnapshotsUpdate(snapshot_ids=removed),))

    assert ours.snapshots == theirs.snapshots
    assert ours.snapshot_log == theirs.snapshot_log
    assert ours.refs == theirs.refs and "doomed" not in ours.refs and "kept" in ours.refs
    assert ours.statistics == theirs.statistics
    assert (
        remove_snapshots_update(removed).model_dump()
        == RemoveSnapshotsUpdate(snapshot_ids=removed).model_dump()
    )
    with pytest.raises(ValueError, match="does not exist"):
        update_table_metadata(metadata, (remove_snapshots_update([12345]),))
