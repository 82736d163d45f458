"""Format v3 on a real SQLite catalog, without Spark: expire and table stats commit v3 metadata
that keeps every field they do not change (row lineage included), dry runs plan what real runs
do, and every refusal happens in the plan with nothing written.

The v3 table is a PyIceberg v2 table whose metadata document is upgraded by hand (format
version 3, ``next-row-id``; the spec lets snapshots written before an upgrade lack
``first-row-id``) and registered under a new name. Spark-written v3 tables with deletion vectors
are covered in phlo_lakehouse_tests/integration/test_spark_format_v3.py.
"""

import json
import os
import uuid
from urllib.parse import urlparse

import pytest

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import (
    ComputeTableStatsOperation,
    DataRetentionOperation,
    ExpireSnapshotsOperation,
    OperationExecutor,
    OptimizeOperation,
    RemoveDanglingDeletesOperation,
    RewriteManifestsOperation,
    RewritePositionDeletesOperation,
)

NEXT_ROW_ID = 4242
REFUSED = [
    OptimizeOperation(),
    RewriteManifestsOperation(rewrite_all=True),
    RemoveDanglingDeletesOperation(),
    DataRetentionOperation(column="event_time", retention="1d"),
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


def v3_table(lakehouse, name: str = "raw.v3", **extra) -> str:
    """A v3 table (``extra`` added to its metadata document) with four snapshots."""
    handle = seed_demo_table(lakehouse, "raw.source", commits=4, rows_per_commit=5)
    document = _document(handle.table.metadata_location)
    document.update({"format-version": 3, "next-row-id": NEXT_ROW_ID, **extra})
    version = int(os.path.basename(_path(handle.table.metadata_location)).split("-")[0]) + 1
    location = f"{handle.table.location()}/metadata/{version:05d}-{uuid.uuid4()}.metadata.json"
    with open(_path(location), "w", encoding="utf-8") as f:
        json.dump(document, f)
    catalog = lakehouse.catalog()
    catalog.drop_table("raw.source")  # keeps the files; the v3 table owns them now
    catalog.register_table(name, location)
    assert lakehouse.get_table(name).table.metadata.format_version == 3
    return name


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
    assert os.path.getsize(_path(statistics["statistics-path"])) == (
        statistics["file-size-in-bytes"]
    )


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
    after = lakehouse.get_table(name)
    assert after.table.metadata_location == location and _files(after) == files
