"""The YAML component builds the same jobs, schedules, checks and sensor as the Python factories."""

import textwrap

import dagster as dg
import pytest

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.dagster.component import LakehouseMaintenanceComponent


def _component(yaml_text: str) -> LakehouseMaintenanceComponent:
    return LakehouseMaintenanceComponent.resolve_from_yaml(textwrap.dedent(yaml_text))


def test_component_from_yaml_builds_jobs_schedules_checks_and_sensor(tmp_path):
    component = _component(
        f"""
        tables: ["raw.*"]
        optimize: {{target_file_size: 128MB}}
        expire: {{older_than: 5d, retain_last: 3}}
        schedules:
          - {{job: lakehouse_expire, cron: "0 3 * * *"}}
          - {{job: lakehouse_vacuum, cron: "0 4 * * 0", default_status: RUNNING}}
        checks: ["raw.events"]
        sensor: true
        catalog: {{home: {tmp_path}}}
        """
    )
    defs = component.build_defs(None)
    assert {j.name for j in defs.jobs} >= {"lakehouse_maintenance", "lakehouse_optimize"}
    assert sorted(s.name for s in defs.schedules) == [
        "lakehouse_expire_schedule",
        "lakehouse_vacuum_schedule",
    ]
    assert [s.name for s in defs.sensors] == ["lakehouse_auto_maintenance"]
    check_keys = {k for c in defs.asset_checks for k in c.check_keys}
    assert check_keys == {dg.AssetCheckKey(dg.AssetKey(["raw", "events"]), "lakehouse_table_stats")}
    select = defs.resolve_job_def("lakehouse_optimize").graph.node_named(
        "lakehouse_optimize__select_tables"
    )
    optimize_defaults = select.definition.config_schema.config_type.fields["optimize"]
    assert optimize_defaults.config_type.fields["target_file_size"].default_value == "128MB"
    assert defs.resources["lakehouse"].home == str(tmp_path)


def test_component_rejects_bad_settings():
    component = _component("""
        tables: ["raw.*"]
        vacuum: {older_than: 1h}
        """)
    with pytest.raises(InvalidInput, match="24 hours"):
        component.build_defs(None)
