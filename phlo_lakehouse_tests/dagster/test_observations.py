"""Observations read back from the Dagster instance: descriptions a person can read, typed
metadata, readable sizes, and dry runs kept out of the asset's history."""

import os

import dagster as dg
import pytest

from phlo_lakehouse.dagster import lakehouse_maintenance_definitions
from phlo_lakehouse.dagster.ops import DRY_RUN_TAG
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.listing import list_storage

KEY = dg.AssetKey(["demo", "events"])
JOB = "lakehouse_maintenance"


def _run(resource, instance, **config):
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["demo.events"]),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    job = defs.resolve_job_def(JOB)
    run_config = {"ops": {f"{JOB}__select_tables": {"config": config}}}
    result = job.execute_in_process(run_config=run_config, instance=instance)
    assert result.success
    return result


def _orphan_sizes(handle) -> dict[str, int]:
    """The table's orphan files and their sizes, from the file system (the oracle)."""
    reachable = reachable_files(handle.table).all()
    return {
        f.path: os.stat(f.path.removeprefix("file://")).st_size
        for f in list_storage(handle.table.io, handle.table.location())
        if f.path not in reachable
    }


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def _observations(instance, run_id):
    records = instance.fetch_observations(KEY, limit=50).records
    return {
        r.asset_observation.metadata["lakehouse/operation"].value: r.asset_observation
        for r in records
        if r.run_id == run_id
    }


def test_real_run_observations_say_what_happened_with_typed_metadata(
    resource, fragmented, instance
):
    orphans = _orphan_sizes(fragmented)
    rows = fragmented.to_arrow().num_rows
    assert len(orphans) == 5 and rows == 1000
    result = _run(resource, instance, expire={"older_than": "0s"})
    observed = _observations(instance, result.run_id)
    assert set(observed) == {"optimize", "expire", "vacuum"}

    vacuum = observed["vacuum"]
    total = sum(orphans.values())
    assert vacuum.description == f"vacuum: deleted 5 orphan files, {_kib(total)}"
    meta = vacuum.metadata
    assert meta["lakehouse/orphan_files_deleted"] == dg.MetadataValue.int(5)
    assert meta["lakehouse/orphan_deleted_bytes"] == dg.MetadataValue.int(total)
    assert meta["lakehouse/orphan_deleted_size"] == dg.MetadataValue.text(_kib(total))
    assert meta["lakehouse/changed"] == dg.MetadataValue.bool(True)
    assert meta["lakehouse/committed"] == dg.MetadataValue.bool(False)  # deletes, no commit

    optimize = observed["optimize"]
    assert optimize.description.startswith("optimize: rewrote 80 files (")
    assert optimize.description.endswith(
        " into 4 (" + optimize.metadata["lakehouse/written_size"].value + "), 1,000 rows"
    )
    assert optimize.metadata["lakehouse/files_rewritten"] == dg.MetadataValue.int(80)
    assert optimize.metadata["lakehouse/files_added"] == dg.MetadataValue.int(4)
    data_files = fragmented.refresh().table.inspect.files().to_pylist()
    assert optimize.metadata["lakehouse/written_bytes"] == dg.MetadataValue.int(
        sum(f["file_size_in_bytes"] for f in data_files)
    )

    expire = observed["expire"]
    assert expire.description.startswith("expire: expired 20 snapshots, deleted ")
    assert expire.metadata["lakehouse/snapshots_expired"] == dg.MetadataValue.int(20)
    # 80 data files the compaction replaced + 20 manifest lists + their manifests.
    assert expire.metadata["lakehouse/data_files_deleted"] == dg.MetadataValue.int(80)
    assert expire.metadata["lakehouse/manifest_lists_deleted"] == dg.MetadataValue.int(20)

    for kind, observation in observed.items():
        meta = observation.metadata
        assert meta["dagster/row_count"] == dg.MetadataValue.int(rows), kind
        assert meta["dagster/table_name"] == dg.MetadataValue.text("lakehouse.demo.events"), kind
        assert isinstance(meta["lakehouse/summary"], dg.MarkdownMetadataValue), kind
        assert observation.description in meta["lakehouse/summary"].value, kind
        assert isinstance(meta["before/size_bytes"], dg.IntMetadataValue), kind
        assert isinstance(meta["before/size"], dg.TextMetadataValue), kind
        assert meta["lakehouse/dry_run"] == dg.MetadataValue.bool(False), kind
        schema = meta["dagster/column_schema"].schema
        columns = {c.name: c.type for c in schema.columns}
        table_schema = fragmented.refresh().table.schema()
        assert columns == {f.name: str(f.field_type) for f in table_schema.fields}, kind


def test_dry_run_is_marked_and_never_recorded_as_the_tables_state(resource, fragmented, instance):
    orphans = _orphan_sizes(fragmented)
    result = _run(resource, instance, dry_run=True)
    assert instance.fetch_observations(KEY, limit=10).records == []
    assert instance.get_run_by_id(result.run_id).tags[DRY_RUN_TAG] == "true"

    outputs = {
        e.step_key.split("__")[1].split("[")[0]: e.event_specific_data.metadata
        for e in result.all_events
        if e.event_type_value == "STEP_OUTPUT" and "[" in (e.step_key or "")
    }
    assert set(outputs) == {"optimize", "expire", "vacuum"}
    total = sum(orphans.values())
    assert outputs["vacuum"]["description"] == dg.MetadataValue.text(
        f"dry run: vacuum would delete 5 orphan files, {_kib(total)}; nothing changed"
    )
    assert outputs["optimize"]["description"].value.startswith(
        "dry run: optimize would rewrite 80 files ("
    )
    for meta in outputs.values():
        assert meta["lakehouse/dry_run"] == dg.MetadataValue.bool(True)
        assert meta["lakehouse/changed"] == dg.MetadataValue.bool(False)
        assert "Dry run" in meta["lakehouse/summary"].value
    assert _orphan_sizes(fragmented.refresh()) == orphans


@pytest.mark.parametrize("dry_run", [False, True])
def test_nothing_to_do_reads_as_such(resource, instance, dry_run):
    from phlo_lakehouse.demo import seed_demo_table

    seed_demo_table(resource.get_lakehouse(), "demo.events", commits=1, rows_per_commit=10)
    result = _run(resource, instance, dry_run=dry_run)
    lines = [
        e.event_specific_data.metadata["description"].value
        for e in result.all_events
        if e.event_type_value == "STEP_OUTPUT" and "[" in (e.step_key or "")
    ]
    prefix = "dry run: " if dry_run else ""
    suffix = "; nothing changed" if dry_run else ""
    assert sorted(lines) == sorted(
        [
            f"{prefix}optimize: nothing to compact{suffix}",
            f"{prefix}expire: nothing old enough to expire (1 kept){suffix}",
            f"{prefix}vacuum: no orphan files ({lines_listed(resource)} listed){suffix}",
        ]
    )


def lines_listed(resource) -> str:
    handle = resource.get_table("demo.events")
    count = len(list(list_storage(handle.table.io, handle.table.location())))
    return f"{count:,} file" + ("" if count == 1 else "s")
