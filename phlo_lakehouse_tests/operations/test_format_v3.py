"""Format v3 on a real SQLite catalog, without Spark: expire and table stats commit v3 metadata
that keeps every field they do not change (row lineage included), a manifest rewrite assigns row
ids to rows written before the upgrade as the spec requires, compaction keeps every row's
lineage (written into the new files), dry runs plan what real runs do,
and every refusal happens in the plan with nothing written.

The v3 table is a PyIceberg v2 table whose metadata document is upgraded by hand (format
version 3, ``next-row-id``; the spec lets snapshots written before an upgrade lack
``first-row-id``) and registered under a new name. Spark-written v3 tables with deletion vectors
are covered in phlo_lakehouse_tests/integration/test_spark_format_v3.py.
"""

import json
import os
import uuid
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from phlo_lakehouse import CatalogSettings, Conflict, IcebergLakehouse, InvalidInput
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import (
    ComputeTableStatsOperation,
    ExpireSnapshotsOperation,
    OperationExecutor,
    OptimizeOperation,
    RewriteManifestsOperation,
    RewritePositionDeletesOperation,
)
from phlo_lakehouse.operations.cherry_pick import CherryPickOperation
from phlo_lakehouse.operations.ref_ops import CreateRefOperation
from phlo_lakehouse.operations.schema_ops import EvolveSchemaOperation, SchemaChanges
from phlo_lakehouse.operations.snapshot_ops import RollbackOperation
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, glue_on_moto

NEXT_ROW_ID = 4242
DATA_FILE_NAMES = [
    "content",
    "file_path",
    "file_format",
    "partition",
    "record_count",
    "file_size_in_bytes",
    "column_sizes",
    "value_counts",
    "null_value_counts",
    "nan_value_counts",
    "lower_bounds",
    "upper_bounds",
    "key_metadata",
    "split_offsets",
    "equality_ids",
    "sort_order_id",
    "first_row_id",
    "referenced_data_file",
    "content_offset",
    "content_size_in_bytes",
]  # the spec's data_file struct in v3, in its order
REFUSED = [
    RewritePositionDeletesOperation(),
]


def _path(location: str) -> str:
    return urlparse(location).path


def _document(location: str) -> dict:
    with open(_path(location), encoding="utf-8") as f:
        return json.load(f)


def _files(handle) -> set[str]:
    root = _path(handle.table.location())
    return {os.path.join(d, f) for d, _, names in os.walk(root) for f in names}


def v3_table(lakehouse, name: str = "raw.v3", before_upgrade=None, **extra) -> str:
    """A v3 table (``extra`` added to its metadata document) with four snapshots, in the
    namespace of ``name`` (on any catalog and warehouse: files go through the table's FileIO);
    ``before_upgrade(handle)`` may commit to the v2 table first."""
    source = f"{name.rsplit('.', 1)[0]}.source"
    handle = seed_demo_table(lakehouse, source, commits=4, rows_per_commit=5)
    if before_upgrade is not None:
        before_upgrade(handle)
        handle = lakehouse.get_table(source)
    io = handle.table.io
    document = _read_json(io, handle.table.metadata_location)
    document.update({"format-version": 3, "next-row-id": NEXT_ROW_ID, **extra})
    version = int(handle.table.metadata_location.rsplit("/", 1)[1].split("-")[0]) + 1
    location = f"{handle.table.location()}/metadata/{version:05d}-{uuid.uuid4()}.metadata.json"
    with io.new_output(location).create() as f:
        f.write(json.dumps(document).encode())
    catalog = lakehouse.catalog()
    catalog.drop_table(source)  # keeps the files; the v3 table owns them now
    catalog.register_table(name, location)
    assert lakehouse.get_table(name).table.metadata.format_version == 3
    return name


def _read_json(io, location: str) -> dict:
    with io.new_input(location).open() as f:
        return json.loads(f.read())


def _unchanged_except(before: dict, after: dict, changed: set[str]) -> None:
    """Every top-level field of ``before`` but ``changed`` is in ``after``, equal (schemas
    may gain PyIceberg's empty ``identifier-field-ids``)."""
    for schema in (*before["schemas"], *after["schemas"]):
        if schema.get("identifier-field-ids") == []:
            del schema["identifier-field-ids"]
    for key in set(before) - changed:
        assert after.get(key) == before[key], key
    assert set(after) - set(before) <= changed


def test_expire_commits_v3_metadata_keeping_every_field_and_dry_run_plans_it(lakehouse):
    name = v3_table(lakehouse)
    handle = lakehouse.get_table(name)
    before = _document(handle.table.metadata_location)
    rows = handle.to_arrow().sort_by("event_id")
    op = ExpireSnapshotsOperation(older_than="0s", retain_last=2)

    dry = OperationExecutor(lakehouse).run(op, name, dry_run=True)
    assert lakehouse.get_table(name).table.metadata_location == handle.table.metadata_location
    result = OperationExecutor(lakehouse).run(op, name)

    assert dry.figures == result.figures and result.figures["snapshots_to_expire"] == 2
    after_handle = lakehouse.get_table(name)
    after = _document(after_handle.table.metadata_location)
    assert after["format-version"] == 3 and after["next-row-id"] == NEXT_ROW_ID
    _unchanged_except(
        before, after, {"snapshots", "snapshot-log", "metadata-log", "last-updated-ms"}
    )
    kept = {s["snapshot-id"]: dict(s) for s in before["snapshots"][2:]}
    del kept[before["snapshots"][2]["snapshot-id"]]["parent-snapshot-id"]  # its parent expired
    assert {s["snapshot-id"]: s for s in after["snapshots"]} == kept
    assert after["snapshot-log"] == before["snapshot-log"][2:]
    assert after["metadata-log"][-1]["metadata-file"] == handle.table.metadata_location
    assert after_handle.to_arrow().sort_by("event_id") == rows
    assert "_write_metadata" not in vars(lakehouse.catalog())  # the v3 writer was scoped


def test_table_stats_commit_v3_metadata_adding_only_the_statistics(lakehouse):
    name = v3_table(lakehouse)
    handle = lakehouse.get_table(name)
    before = _document(handle.table.metadata_location)
    op = ComputeTableStatsOperation(columns=["event_id"])

    dry = OperationExecutor(lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(lakehouse).run(op, name)

    assert dry.figures == result.figures
    after = _document(lakehouse.get_table(name).table.metadata_location)
    _unchanged_except(before, after, {"statistics", "metadata-log", "last-updated-ms"})
    (statistics,) = after["statistics"]
    assert statistics["snapshot-id"] == handle.snapshot_id
    assert (
        os.path.getsize(_path(statistics["statistics-path"])) == (statistics["file-size-in-bytes"])
    )


def _avro_records(location: str) -> list:
    """Every record of an Avro file, decoded with the file's own schema."""
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.io.pyarrow import PyArrowFileIO

    with AvroFile(PyArrowFileIO().new_input(location)) as reader:
        names = [f.name for f in reader.schema.fields]
        return [dict(zip(names, _values(r), strict=True)) for r in reader]


def _values(record) -> list:
    return [record[i] for i in range(len(record))]


def test_manifest_rewrite_gives_rows_from_before_the_upgrade_row_ids(lakehouse):
    """Snapshots from before an upgrade to v3 carry no row ids; the first snapshot after it must
    assign them: the rewritten manifest gets ``first_row_id`` = the table's ``next-row-id`` and
    the snapshot ``added-rows`` = every row in it (spec: Row Lineage for Upgraded Tables)."""
    name = v3_table(lakehouse)
    handle = lakehouse.get_table(name)
    rows = handle.to_arrow().sort_by("event_id")
    op = RewriteManifestsOperation(rewrite_all=True)

    dry = OperationExecutor(lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(lakehouse).run(op, name)

    assert dry.figures == result.figures and result.figures["manifests_to_rewrite"] == 4
    after = lakehouse.get_table(name)
    document = _document(after.table.metadata_location)
    snapshot = document["snapshots"][-1]
    assert snapshot["summary"]["operation"] == "replace"
    assert (snapshot["first-row-id"], snapshot["added-rows"]) == (NEXT_ROW_ID, len(rows))
    assert document["next-row-id"] == NEXT_ROW_ID + len(rows)
    (listed,) = _avro_records(snapshot["manifest-list"])
    assert listed["first_row_id"] == NEXT_ROW_ID and listed["existing_rows_count"] == len(rows)
    entries = _avro_records(listed["manifest_path"])
    assert len(entries) == result.figures["entries_to_rewrite"] == len(after.table.inspect.files())
    assert all(e["status"] == 0 for e in entries)  # EXISTING
    files = [dict(zip(DATA_FILE_NAMES, _values(e["data_file"]), strict=False)) for e in entries]
    assert {f["first_row_id"] for f in files} == {None}  # inherited from the manifest
    assert after.to_arrow().sort_by("event_id") == rows


def _row_ids_by_event(handle) -> dict[int, tuple[int, int]]:
    """Each row's (_row_id, _last_updated_sequence_number) by event_id, decoded independently:
    the manifest list and manifests with their own Avro schemas, each data file's stored
    lineage columns (by field id) with pyarrow, and the spec's inheritance rules."""
    import pyarrow.parquet as pq

    lineage = {}
    snapshot = _document(handle.table.metadata_location)["snapshots"][-1]
    for listed in _avro_records(snapshot["manifest-list"]):
        if listed["content"] != 0:
            continue
        next_id = listed["first_row_id"]
        for entry in _avro_records(listed["manifest_path"]):
            if entry["status"] == 2:  # DELETED
                continue
            data = dict(zip(DATA_FILE_NAMES, _values(entry["data_file"]), strict=False))
            first = data["first_row_id"]
            if first is None:
                first, next_id = next_id, next_id + data["record_count"]
            sequence = entry["sequence_number"]
            if sequence is None:
                sequence = listed["sequence_number"]
            rows = pq.read_table(_path(data["file_path"]))
            stored = {
                int(f.metadata[b"PARQUET:field_id"]): f.name
                for f in rows.schema
                if f.metadata and int(f.metadata[b"PARQUET:field_id"]) > 2**31 - 200
            }
            ids = rows["event_id"].to_pylist()
            row_ids = rows[stored[2147483540]].to_pylist() if 2147483540 in stored else []
            seqs = rows[stored[2147483539]].to_pylist() if 2147483539 in stored else []
            for pos, event in enumerate(ids):
                row_id = row_ids[pos] if row_ids and row_ids[pos] is not None else first + pos
                seq = seqs[pos] if seqs and seqs[pos] is not None else sequence
                lineage[event] = (row_id, seq)
    return lineage


@pytest.mark.parametrize("strategy", ["binpack", "sort", "zorder"])
def test_optimize_on_v3_keeps_every_rows_lineage_and_dry_run_plans_it(lakehouse, strategy):
    """A manifest rewrite gives the rows from before the upgrade row ids; compaction then
    writes each row's _row_id and _last_updated_sequence_number into the new files, so the
    spec's reader rules give every row the values it had; the commit assigns the new manifest
    row ids from next-row-id (snapshot first-row-id, added-rows) as the spec requires."""
    name = v3_table(lakehouse)
    OperationExecutor(lakehouse).run(RewriteManifestsOperation(rewrite_all=True), name)
    handle = lakehouse.get_table(name)
    rows = handle.to_arrow().sort_by("event_id").to_pylist()
    before = _row_ids_by_event(handle)
    assert sorted(r for r, _ in before.values()) == list(range(NEXT_ROW_ID, NEXT_ROW_ID + 20))
    next_row_id = _document(handle.table.metadata_location)["next-row-id"]
    files_before = len(handle.table.inspect.files())
    op = OptimizeOperation(
        strategy=strategy,
        sort_by=["event_id desc"] if strategy == "sort" else None,
        zorder_by=["user_id", "event_id"] if strategy == "zorder" else None,
        rewrite_all=True,
        stitch="always",  # refused on v3: copied row groups cannot gain the lineage columns
    )

    dry = OperationExecutor(lakehouse).run(op, name, dry_run=True)
    assert lakehouse.get_table(name).table.metadata_location == handle.table.metadata_location
    result = OperationExecutor(lakehouse).run(op, name)

    assert dry.figures == result.figures and result.figures["files_to_rewrite"] == files_before
    assert dry.details["row_lineage"] == result.details["row_lineage"]
    assert result.details["stitched_groups"] == 0
    assert result.details["decode_reasons"] == [dry.details["row_lineage"]]
    after = lakehouse.get_table(name)
    assert len(after.table.inspect.files()) < files_before
    assert after.to_arrow().sort_by("event_id").to_pylist() == rows
    assert _row_ids_by_event(after) == before
    document = _document(after.table.metadata_location)
    snapshot = document["snapshots"][-1]
    assert snapshot["summary"]["operation"] == "replace"
    added = sum(int(f["record_count"]) for f in after.table.inspect.files().to_pylist())
    assert (snapshot["first-row-id"], snapshot["added-rows"]) == (next_row_id, added)
    assert document["next-row-id"] == next_row_id + added


@pytest.mark.parametrize("dry_run", [True, False])
def test_metadata_fields_pyiceberg_cannot_carry_refuse_the_plan(lakehouse, dry_run):
    keys = [{"key-id": "k", "encrypted-key-metadata": "AA=="}]
    name = v3_table(lakehouse, **{"encryption-keys": keys})
    handle = lakehouse.get_table(name)
    files, location = _files(handle), handle.table.metadata_location
    for op in (ExpireSnapshotsOperation(older_than="0s"), ComputeTableStatsOperation()):
        with pytest.raises(InvalidInput) as raised:
            OperationExecutor(lakehouse).run(op, name, dry_run=dry_run)
        message = raised.value.message
        assert message.startswith(f"{op.name} cannot commit to format v3 table")
        assert "dropped /encryption-keys" in message and "\n" not in message
    after = lakehouse.get_table(name)
    assert after.table.metadata_location == location and _files(after) == files


@pytest.mark.parametrize("dry_run", [True, False])
def test_operations_v3_cannot_do_are_refused_in_the_plan_before_anything_is_written(
    lakehouse, dry_run
):
    name = v3_table(lakehouse)
    handle = lakehouse.get_table(name)
    files, location = _files(handle), handle.table.metadata_location
    for op in REFUSED:
        with pytest.raises(InvalidInput) as raised:
            OperationExecutor(lakehouse).run(op, name, dry_run=dry_run)
        message = raised.value.message
        assert message.startswith(f"{op.name} cannot commit to format v3 table {name}: ")
        assert "PyIceberg 0.12" in message and "\n" not in message
        assert "needs a deletion-vector writer" in message  # rewrite_position_deletes
    after = lakehouse.get_table(name)
    assert after.table.metadata_location == location and _files(after) == files


def test_ref_and_schema_changes_commit_v3_metadata_keeping_row_lineage(lakehouse):
    name = v3_table(lakehouse)
    handle = lakehouse.get_table(name)
    first, second = [s.snapshot_id for s in handle.table.snapshots()][:2]
    executor = OperationExecutor(lakehouse)
    before = _document(handle.table.metadata_location)

    executor.run(CreateRefOperation("audit", kind="tag", snapshot_id=first), name)
    executor.run(RollbackOperation(second), name)
    executor.run(EvolveSchemaOperation(SchemaChanges.of(add_columns={"note": "string"})), name)

    after = _document(lakehouse.get_table(name).table.metadata_location)
    assert after["format-version"] == 3 and after["next-row-id"] == NEXT_ROW_ID
    assert after["refs"]["audit"] == {"snapshot-id": first, "type": "tag"}
    assert after["refs"]["main"]["snapshot-id"] == second
    assert [f["name"] for f in after["schemas"][-1]["fields"]][-1] == "note"
    assert after["snapshots"] == before["snapshots"]
    assert len(after["metadata-log"]) == len(before["metadata-log"]) + 3


def test_cherry_pick_on_v3_gives_the_rows_it_adds_new_row_ids(lakehouse):
    """An append on an audit branch, cherry-picked onto main: the new manifest gets
    ``first_row_id`` = next-row-id in the manifest list, so the picked rows get the next row
    ids and the commit's sequence number (the spec's reader rules, decoded from the Avro files);
    every other row keeps its lineage; dry run == real run; picking it again is refused."""
    from phlo_lakehouse.demo import demo_rows
    from phlo_lakehouse.operations.cherry_pick import append_to_branch

    def audit_append(source) -> None:
        OperationExecutor(lakehouse).run(CreateRefOperation("audit"), source.identifier)
        append_to_branch(lakehouse.get_table(source.identifier).table, demo_rows(100, 5), "audit")

    name = v3_table(lakehouse, before_upgrade=audit_append)
    executor = OperationExecutor(lakehouse)
    executor.run(RewriteManifestsOperation(rewrite_all=True), name)  # main's rows get row ids
    handle = lakehouse.get_table(name)
    picked = handle.table.metadata.refs["audit"].snapshot_id
    audit_rows = lakehouse.get_table(name, "audit").to_arrow()
    new_ids = sorted(set(audit_rows["event_id"].to_pylist()) - set(range(20)))
    before = _row_ids_by_event(handle)
    rows = handle.to_arrow().sort_by("event_id").to_pylist()
    next_row_id = handle.table.metadata.next_row_id
    op = CherryPickOperation(picked)

    dry = executor.run(op, name, dry_run=True)
    assert lakehouse.get_table(name).table.metadata_location == handle.table.metadata_location
    result = executor.run(CherryPickOperation(picked), name)

    assert result.committed and dry.figures == result.figures
    assert result.figures["added_records"] == len(new_ids) == 5
    after = lakehouse.get_table(name)
    expected = sorted(
        rows + audit_rows.filter(pc.is_in(audit_rows["event_id"], pa.array(new_ids))).to_pylist(),
        key=lambda r: r["event_id"],
    )
    assert after.to_arrow().sort_by("event_id").to_pylist() == expected
    document = _document(after.table.metadata_location)
    snapshot = document["snapshots"][-1]
    assert snapshot["summary"]["operation"] == "append"
    assert (snapshot["first-row-id"], snapshot["added-rows"]) == (next_row_id, 5)
    assert document["next-row-id"] == next_row_id + 5
    lineage = _row_ids_by_event(after)
    assert {e: lineage[e] for e in before} == before
    sequence = snapshot["sequence-number"]
    assert sorted(lineage[e] for e in new_ids) == [(next_row_id + i, sequence) for i in range(5)]
    with pytest.raises(InvalidInput, match="already part of"):
        executor.run(CherryPickOperation(picked), name)


def test_a_commit_that_would_drop_a_field_is_refused_before_writing(lakehouse):
    """The last check before our v3 writer writes, whatever path the commit took."""
    from pyiceberg.table.update import SetPropertiesUpdate

    from phlo_lakehouse.operations.commit import commit_updates

    keys = [{"key-id": "k", "encrypted-key-metadata": "AA=="}]
    name = v3_table(lakehouse, **{"encryption-keys": keys})
    handle = lakehouse.get_table(name)
    files, location = _files(handle), handle.table.metadata_location
    with pytest.raises(InvalidInput) as raised:
        commit_updates(handle.table, [SetPropertiesUpdate(updates={"k": "v"})], [])
    assert "dropped /encryption-keys" in raised.value.message
    with pytest.raises(InvalidInput):
        OperationExecutor(lakehouse).run(CreateRefOperation("t", kind="tag"), name)
    after = lakehouse.get_table(name)
    assert after.table.metadata_location == location and _files(after) == files


def test_manifest_rewrite_conflicts_when_another_branch_moved_next_row_id(lakehouse):
    """A snapshot's first-row-id is the table's next-row-id: a rewrite planned before another
    branch's commit advanced it is refused (nothing it wrote stays) and re-planned."""
    name = v3_table(lakehouse)
    executor = OperationExecutor(lakehouse)
    executor.run(CreateRefOperation("side"), name)
    handle = lakehouse.get_table(name)
    op = RewriteManifestsOperation(rewrite_all=True)
    plan = op.plan(handle)
    executor.run(RewriteManifestsOperation(rewrite_all=True), name, "side")
    moved = lakehouse.get_table(name).table.metadata.next_row_id
    assert moved > NEXT_ROW_ID
    files = _files(lakehouse.get_table(name))

    with pytest.raises(Conflict, match="next-row-id moved"):
        op.execute(handle, plan)

    assert _files(lakehouse.get_table(name)) == files
    result = executor.run(op, name)
    assert result.committed
    snapshot = _document(lakehouse.get_table(name).table.metadata_location)["snapshots"][-1]
    assert snapshot["first-row-id"] == moved


@pytest.mark.moto
def test_stats_manifest_rewrite_and_expire_on_a_glue_v3_table(s3_endpoint, unique_name):
    """Glue writes metadata client-side too (through the same writer), to S3."""
    settings = glue_on_moto(s3_endpoint, unique_name)
    lakehouse = IcebergLakehouse(settings)
    name = v3_table(lakehouse, f"{unique_name}.v3")
    rows = lakehouse.get_table(name).to_arrow().sort_by("event_id")
    executor = OperationExecutor(lakehouse)

    executor.run(ComputeTableStatsOperation(columns=["event_id"]), name)
    executor.run(RewriteManifestsOperation(rewrite_all=True), name)
    result = executor.run(ExpireSnapshotsOperation(older_than="0s", retain_last=1), name)

    assert result.figures["snapshots_to_expire"] == 4
    handle = lakehouse.get_table(name)
    document = _read_json(handle.table.io, handle.table.metadata_location)
    assert handle.table.metadata_location.startswith(f"s3://warehouse/{unique_name}/")
    assert document["format-version"] == 3
    assert document["next-row-id"] == NEXT_ROW_ID + len(rows)
    (snapshot,) = document["snapshots"]
    assert (snapshot["first-row-id"], snapshot["added-rows"]) == (NEXT_ROW_ID, len(rows))
    assert document["statistics"] == []  # its snapshot expired with it
    assert handle.to_arrow().sort_by("event_id") == rows


@pytest.mark.iceberg_rest
@pytest.mark.moto
def test_commits_to_v3_tables_of_rest_catalogs_are_refused_in_the_plan(s3_endpoint, unique_name):
    """A REST catalog writes metadata on its server, whose v3 support is not verified here."""
    import pyarrow as pa

    from phlo_lakehouse.storage.listing import list_storage
    from phlo_lakehouse_tests.conftest import require_env

    uri = require_env("PHLO_TEST_ICEBERG_REST_CATALOG", "iceberg_rest")
    props = {**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint}
    lakehouse = IcebergLakehouse(CatalogSettings(type="rest", uri=uri, properties=props))
    lakehouse.catalog().create_namespace(unique_name)
    name = f"{unique_name}.v3"
    schema = pa.schema([("event_id", pa.int64())])
    lakehouse.catalog().create_table(name, schema=schema, properties={"format-version": "3"})
    handle = lakehouse.get_table(name)
    assert handle.table.metadata.format_version == 3
    listing = {f.path for f in list_storage(handle.table.io, handle.table.location())}
    for op in (
        ExpireSnapshotsOperation(older_than="0s"),
        ComputeTableStatsOperation(),
        RewriteManifestsOperation(rewrite_all=True),
        CreateRefOperation("t", kind="tag"),
    ):
        with pytest.raises(InvalidInput, match="writes v3 metadata on its server"):
            OperationExecutor(lakehouse).run(op, name)
    after = lakehouse.get_table(name)
    assert after.table.metadata_location == handle.table.metadata_location
    assert {f.path for f in list_storage(after.table.io, after.table.location())} == listing


def test_the_spark_engine_refuses_manifest_rewrites_of_v3_tables_before_contacting_spark(
    lakehouse,
):
    """Iceberg 1.10.2's Spark procedure renumbers every row of a v3 table; ours keeps them."""
    from phlo_lakehouse.engines import SparkEngine
    from phlo_lakehouse_tests.engines.conftest import free_port

    name = v3_table(lakehouse)
    location = lakehouse.get_table(name).table.metadata_location
    engine = SparkEngine(lakehouse.settings, remote=f"sc://127.0.0.1:{free_port()}")
    op = RewriteManifestsOperation(rewrite_all=True)
    with pytest.raises(InvalidInput, match="new _row_id") as raised:
        lakehouse.run(op, name, engine=engine)
    assert "local engine" in raised.value.hint and "\n" not in raised.value.message
    assert lakehouse.get_table(name).table.metadata_location == location


def test_optimize_retries_with_new_row_ids_when_another_branch_moved_next_row_id(lakehouse):
    """A compaction planned before another branch's commit advanced next-row-id loses the
    race (the requirement fails), and its retry gives the new manifest the moved next-row-id:
    no row id is assigned twice, and every row keeps its lineage."""
    name = v3_table(lakehouse)
    executor = OperationExecutor(lakehouse)
    executor.run(RewriteManifestsOperation(rewrite_all=True), name)
    executor.run(CreateRefOperation("side"), name)
    handle = lakehouse.get_table(name)
    before = _row_ids_by_event(handle)
    op = OptimizeOperation(rewrite_all=True)
    plan = op.plan(handle)
    executor.run(OptimizeOperation(rewrite_all=True), name, "side")
    moved = lakehouse.get_table(name).table.metadata.next_row_id

    result = op.execute(handle, plan)

    assert result.committed and result.attempts == 2  # the first attempt lost the race
    after = lakehouse.get_table(name)
    snapshot = _document(after.table.metadata_location)["snapshots"][-1]
    assert snapshot["first-row-id"] == moved and snapshot["parent-snapshot-id"] == plan.snapshot_id
    assert after.table.metadata.next_row_id == moved + len(before)
    assert _row_ids_by_event(after) == before
