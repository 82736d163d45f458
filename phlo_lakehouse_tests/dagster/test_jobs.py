"""The maintenance jobs executed in process against real embedded lakehouses."""

import dagster as dg
import pytest

from phlo_lakehouse.dagster import lakehouse_maintenance_definitions
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.listing import list_storage
from phlo_lakehouse_tests.operations.conftest import rows_of


def _defs(resource, **kwargs):
    return dg.Definitions.merge(
        lakehouse_maintenance_definitions(**kwargs),
        dg.Definitions(resources={"lakehouse": resource}),
    )


def _orphans(handle):
    reachable = reachable_files(handle.table).all()
    return [
        f for f in list_storage(handle.table.io, handle.table.location()) if f.path not in reachable
    ]


def _select(job, **config):
    return {"ops": {f"{job}__select_tables": {"config": config}}}


def test_dry_run_changes_nothing_then_the_real_run_maintains(resource, fragmented, instance):
    job = _defs(resource, tables=["demo.*"]).resolve_job_def("lakehouse_maintenance")
    expire = {"older_than": "0s", "retain_last": 1}
    before_rows, before_snapshot = rows_of(fragmented), fragmented.snapshot_id

    dry = job.execute_in_process(
        run_config=_select(job.name, dry_run=True, expire=expire), instance=instance
    )
    assert dry.success
    after_dry = resource.get_table("demo.events")
    assert after_dry.snapshot_id == before_snapshot
    assert len(after_dry.table.snapshots()) == 20
    assert len(_orphans(after_dry)) == 5

    real = job.execute_in_process(run_config=_select(job.name, expire=expire), instance=instance)
    assert real.success
    after = resource.get_table("demo.events")
    assert rows_of(after) == before_rows
    assert len(after.table.snapshots()) == 1
    assert resource.collect_stats("demo.events").file_count == 4
    assert _orphans(after) == []
    summary = real.output_for_node("lakehouse_maintenance__summary")
    assert summary["tables"] == ["demo.events"]
    assert [r["operation"] for r in summary["results"]] == ["optimize", "expire", "vacuum"]


def test_each_operation_records_an_observation_on_the_table_asset(resource, fragmented, instance):
    job = _defs(resource, tables=["demo.events"]).resolve_job_def("lakehouse_maintenance")
    job.execute_in_process(
        run_config=_select(job.name, expire={"older_than": "0s"}), instance=instance
    )
    records = instance.fetch_observations(dg.AssetKey(["demo", "events"]), limit=10).records
    observations = [r.asset_observation for r in records]
    kinds = sorted(o.metadata["lakehouse/operation"].value for o in observations)
    assert kinds == ["expire", "optimize", "vacuum"]
    optimize = next(
        o for o in observations if o.metadata["lakehouse/operation"].value == "optimize"
    )
    assert optimize.metadata["before/file_count"].value == 80
    assert optimize.metadata["after/file_count"].value == 4
    assert optimize.metadata["lakehouse/files_rewritten"].value == 80


def test_partial_progress_fans_out_one_step_per_file_group(resource, fragmented, instance):
    job = _defs(resource, tables=["demo.events"]).resolve_job_def("lakehouse_optimize")
    result = job.execute_in_process(
        run_config=_select(job.name, optimize={"partial_progress": True}), instance=instance
    )
    assert result.success
    steps = [e.step_key for e in result.get_step_success_events() if "__optimize[" in e.step_key]
    assert len(steps) == 4  # one per partition's group
    assert resource.collect_stats("demo.events").file_count == 4
    assert rows_of(resource.get_table("demo.events")) == rows_of(fragmented)


def test_selectors_resolve_at_run_time(resource, instance):
    from phlo_lakehouse.demo import seed_demo_table

    job = _defs(resource, tables=["raw.*"]).resolve_job_def("lakehouse_rewrite_manifests")
    seed_demo_table(resource.get_lakehouse(), "raw.a", commits=3, rows_per_commit=5)
    seed_demo_table(resource.get_lakehouse(), "raw.b", commits=3, rows_per_commit=5)
    result = job.execute_in_process(instance=instance)
    assert result.output_for_node("lakehouse_rewrite_manifests__summary")["tables"] == [
        "raw.a",
        "raw.b",
    ]
    assert result.output_for_node("lakehouse_rewrite_manifests__summary")["committed"] == 2


def test_settings_in_run_config_reach_the_operation(resource, fragmented, instance):
    job = _defs(resource, tables=["demo.events"]).resolve_job_def("lakehouse_optimize")
    result = job.execute_in_process(
        run_config=_select(
            job.name, optimize={"min_input_files": 100, "max_file_group_size": "1KB"}
        ),
        instance=instance,
    )
    summary = result.output_for_node("lakehouse_optimize__summary")
    assert summary["committed"] == 0  # groups of ≤1 KB hold one file each: nothing to merge


def test_bad_settings_in_run_config_fail_before_any_table_is_touched(
    resource, fragmented, instance
):
    job = _defs(resource, tables=["demo.events"]).resolve_job_def("lakehouse_vacuum")
    result = job.execute_in_process(
        run_config=_select(job.name, vacuum={"older_than": "1h"}),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0]
    assert failure.step_key == "lakehouse_vacuum__select_tables"
    assert "force" in failure.event_specific_data.error.cause.message
    assert len(_orphans(resource.get_table("demo.events"))) == 5


def _row_groups_per_file(handle) -> list[int]:
    """Row groups of each live data file, read from the Parquet footers by pyarrow."""
    import pyarrow.parquet as pq

    from phlo_lakehouse.storage.listing import normalize_location

    return sorted(
        pq.ParquetFile(normalize_location(task.file.file_path)[2]).metadata.num_row_groups
        for task in handle.scan().plan_files()
    )


def test_stitch_in_run_config_chooses_row_group_copying_or_decoding(tmp_path, instance):
    """optimize.stitch in run config reaches the operation: ``always`` copies the inputs' row
    groups (each output file holds as many row groups as the inputs it replaced), ``never``
    decodes (one row group per small output file); rows equal either way. The table property
    says ``never``, so ``always`` must come from the run config."""
    from phlo_lakehouse.dagster import LakehouseResource
    from phlo_lakehouse.demo import seed_demo_table
    from phlo_lakehouse.operations.stitch import STITCH_PROPERTY

    for mode in ("always", "never"):
        resource = LakehouseResource(home=str(tmp_path / mode))
        handle = seed_demo_table(
            resource.get_lakehouse(), "demo.events", commits=6, rows_per_commit=300
        )
        with handle.table.transaction() as tx:
            tx.set_properties({STITCH_PROPERTY: "never" if mode == "always" else "always"})
        handle = resource.get_table("demo.events")
        rows, inputs = rows_of(handle), _row_groups_per_file(handle)
        partitions = len({t.file.partition for t in handle.scan().plan_files()})
        job = _defs(resource, tables=["demo.events"]).resolve_job_def("lakehouse_optimize")

        result = job.execute_in_process(
            run_config=_select(job.name, optimize={"stitch": mode}), instance=instance
        )

        assert result.success
        after = resource.get_table("demo.events")
        assert rows_of(after) == rows
        outputs = _row_groups_per_file(after)
        assert len(outputs) == partitions < len(inputs)
        if mode == "always":
            assert sum(outputs) == sum(inputs)
        else:
            assert outputs == [1] * partitions


def test_an_unknown_stitch_mode_is_refused_by_the_run_config(resource, fragmented, instance):
    job = _defs(resource, tables=["demo.events"]).resolve_job_def("lakehouse_optimize")
    before = resource.get_table("demo.events").snapshot_id
    with pytest.raises(dg.DagsterInvalidConfigError, match="stitch"):
        job.execute_in_process(
            run_config=_select(job.name, optimize={"stitch": "sometimes"}), instance=instance
        )
    assert resource.get_table("demo.events").snapshot_id == before
