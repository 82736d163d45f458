"""`LakehouseMaintenanceComponent`: declare lakehouse maintenance in YAML instead of Python.

``defs.yaml``::

    type: phlo_lakehouse.dagster.LakehouseMaintenanceComponent
    attributes:
      tables: ["raw.*"]
      optimize: {target_file_size: 128MB}
      expire: {older_than: 5d, retain_last: 3}
      schedules:
        - {job: lakehouse_expire, cron: "0 3 * * *"}
        - {job: lakehouse_vacuum, cron: "0 4 * * 0", default_status: RUNNING}
      checks: ["raw.events"]
      sensor: true
      catalog: {home: .lakehouse}
"""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.checks import StatsThresholds, table_stats_checks
from phlo_lakehouse.dagster.factories import MaintenanceSchedule, lakehouse_maintenance_definitions
from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.dagster.sensors import MaintenanceTriggers, auto_maintenance_sensor


@dataclass
class LakehouseMaintenanceComponent(dg.Component, dg.Resolvable):
    """Maintenance jobs, schedules, stats checks and the auto-maintenance sensor from YAML.

    Attributes:
        tables: selectors resolved at run time.
        ref: branch to maintain.
        optimize / expire / vacuum / rewrite_manifests: default run-config settings.
        schedules: entries with job, cron, timezone, default_status, run_config.
        checks: literal table names to attach stats checks to.
        thresholds: `StatsThresholds` fields for the checks.
        sensor: add the auto-maintenance sensor.
        triggers: `MaintenanceTriggers` fields for the sensor.
        catalog: `LakehouseResource` fields; omitted: the environment decides.
        resource_key: key the resource is bound to.
    """

    tables: list[str] = field(default_factory=lambda: ["*.*"])
    ref: str | None = None
    optimize: dict[str, Any] = field(default_factory=dict)
    expire: dict[str, Any] = field(default_factory=dict)
    vacuum: dict[str, Any] = field(default_factory=dict)
    rewrite_manifests: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)
    sensor: bool = False
    triggers: dict[str, Any] = field(default_factory=dict)
    catalog: dict[str, Any] | None = None
    resource_key: str = "lakehouse"

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        maintenance = lakehouse_maintenance_definitions(
            tables=self.tables,
            ref=self.ref,
            optimize=self.optimize,
            expire=self.expire,
            vacuum=self.vacuum,
            rewrite_manifests=self.rewrite_manifests,
            schedules=[MaintenanceSchedule(**s) for s in self.schedules],
            resource_key=self.resource_key,
        )
        extra = dg.Definitions(
            asset_checks=table_stats_checks(
                tables=self.checks,
                thresholds=StatsThresholds(**self.thresholds),
                resource_key=self.resource_key,
                ref=self.ref,
            ),
            sensors=[
                auto_maintenance_sensor(
                    maintenance=maintenance,
                    tables=self.tables,
                    ref=self.ref,
                    triggers=MaintenanceTriggers(**self.triggers),
                    resource_key=self.resource_key,
                )
            ]
            if self.sensor
            else [],
            resources={self.resource_key: LakehouseResource(**(self.catalog or {}))},
        )
        return dg.Definitions.merge(maintenance, extra)
