"""The Dagster adapter layer: resources, maintenance factories, checks, sensors and a Component."""

from phlo_lakehouse.dagster.assets import table_asset_specs
from phlo_lakehouse.dagster.checks import StatsThresholds, table_stats_checks
from phlo_lakehouse.dagster.component import LakehouseMaintenanceComponent
from phlo_lakehouse.dagster.factories import (
    MAINTENANCE_TAG,
    MaintenanceSchedule,
    lakehouse_maintenance_definitions,
)
from phlo_lakehouse.dagster.migration import MigrationSourceResource, migration_definitions
from phlo_lakehouse.dagster.resources import (
    LakehouseResource,
    MetadataResource,
    SchemaResource,
    SnapshotResource,
)
from phlo_lakehouse.dagster.schema_checks import schema_compatibility_checks
from phlo_lakehouse.dagster.sensors import MaintenanceTriggers, auto_maintenance_sensor
from phlo_lakehouse.dagster.translator import LakehouseTranslator

__all__ = [
    "MAINTENANCE_TAG",
    "LakehouseMaintenanceComponent",
    "LakehouseResource",
    "MaintenanceTriggers",
    "StatsThresholds",
    "auto_maintenance_sensor",
    "table_stats_checks",
    "table_asset_specs",
    "LakehouseTranslator",
    "MaintenanceSchedule",
    "MetadataResource",
    "MigrationSourceResource",
    "migration_definitions",
    "lakehouse_maintenance_definitions",
    "SchemaResource",
    "SnapshotResource",
    "schema_compatibility_checks",
]
