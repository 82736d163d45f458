"""The embedded default Definitions that ``workspace.yaml`` loads (``make dev``, ``make run``).

The catalog comes from the environment: with nothing set, the embedded SQLite catalog and local
warehouse in ``.lakehouse/``. Building these definitions does no I/O; table selectors resolve
inside the ops at run time.

Contents: the maintenance jobs over every table (``lakehouse_maintenance`` runs optimize →
expire → vacuum per table), a nightly expire and a weekly vacuum schedule, stats checks on the
demo table's asset, and the auto-maintenance sensor. When the environment names a Nessie catalog
(Phlo's ``NESSIE_HOST`` or ``PHLO_LAKEHOUSE_CATALOG_TYPE=nessie``), expire and vacuum reclaim
nothing there (they refuse to delete files other references may need), so the weekly schedule
runs ``lakehouse_gc`` — Nessie GC over every branch, tag and commit — instead.
"""

import dagster as dg

from phlo_lakehouse.dagster import (
    LakehouseResource,
    MaintenanceSchedule,
    MetadataResource,
    lakehouse_maintenance_definitions,
)
from phlo_lakehouse.dagster.assets import table_asset_specs
from phlo_lakehouse.dagster.checks import StatsThresholds, table_stats_checks
from phlo_lakehouse.dagster.sensors import auto_maintenance_sensor
from phlo_lakehouse.demo import DEMO_TABLE

MAIN_JOB = "lakehouse_maintenance"


def _build() -> dg.Definitions:
    # Built in a function: Dagster's autodiscovery accepts one module-level Definitions.
    lakehouse = LakehouseResource()
    if _nessie_catalog():
        extra: dict = {"gc": {}}
        schedules = [MaintenanceSchedule("lakehouse_gc", "0 3 * * 0", default_status="RUNNING")]
    else:
        extra = {}
        schedules = [
            MaintenanceSchedule("lakehouse_expire", "0 2 * * *", default_status="RUNNING"),
            MaintenanceSchedule("lakehouse_vacuum", "0 3 * * 0", default_status="RUNNING"),
        ]
    maintenance = lakehouse_maintenance_definitions(tables=["*.*"], schedules=schedules, **extra)
    return dg.Definitions.merge(
        maintenance,
        dg.Definitions(
            assets=[_demo_asset()],
            asset_checks=table_stats_checks(
                tables=[DEMO_TABLE], thresholds=StatsThresholds(max_snapshots=20)
            ),
            sensors=[auto_maintenance_sensor(maintenance=maintenance, tables=["*.*"])],
            resources={
                "lakehouse": lakehouse,
                "lakehouse_metadata": MetadataResource(lakehouse=lakehouse),
            },
        ),
    )


def _nessie_catalog() -> bool:
    """True when the environment names a Nessie catalog (read from variables only, no I/O)."""
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.errors import InvalidConfig

    try:
        return CatalogSettings.from_env().type == "nessie"
    except InvalidConfig:
        return False  # the resource reports the bad configuration when a run uses it


def _demo_asset() -> dg.AssetSpec:
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.errors import InvalidConfig

    try:
        settings = CatalogSettings.from_env()
    except InvalidConfig:  # the resource reports the bad configuration when a run uses it
        settings = CatalogSettings.embedded(".lakehouse")
    (spec,) = table_asset_specs(tables=[DEMO_TABLE], group_name="demo", settings=settings)
    return spec.replace_attributes(
        description="The demo Iceberg table `make run` seeds (events over four days)."
    )


defs = _build()
