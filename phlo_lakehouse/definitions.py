"""The embedded default Definitions that ``workspace.yaml`` loads (``make dev``, ``make run``).

The catalog comes from the environment: with nothing set, the embedded SQLite catalog and local
warehouse in ``.lakehouse/``. Building these definitions does no I/O; table selectors resolve
inside the ops at run time.

Contents: the maintenance jobs over every table (``lakehouse_maintenance`` runs optimize →
expire → vacuum per table), a nightly expire and a weekly vacuum schedule, stats checks on the
demo table's asset, and the auto-maintenance sensor.
"""

import dagster as dg

from phlo_lakehouse.dagster import (
    LakehouseResource,
    MaintenanceSchedule,
    MetadataResource,
    lakehouse_maintenance_definitions,
)
from phlo_lakehouse.dagster.checks import StatsThresholds, table_stats_checks
from phlo_lakehouse.dagster.sensors import auto_maintenance_sensor
from phlo_lakehouse.demo import DEMO_TABLE

MAIN_JOB = "lakehouse_maintenance"


def _build() -> dg.Definitions:
    # Built in a function: Dagster's autodiscovery accepts one module-level Definitions.
    lakehouse = LakehouseResource()
    maintenance = lakehouse_maintenance_definitions(
        tables=["*.*"],
        schedules=[
            MaintenanceSchedule("lakehouse_expire", "0 2 * * *", default_status="RUNNING"),
            MaintenanceSchedule("lakehouse_vacuum", "0 3 * * 0", default_status="RUNNING"),
        ],
    )
    return dg.Definitions.merge(
        maintenance,
        dg.Definitions(
            assets=[DEMO_ASSET],
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


DEMO_ASSET = dg.AssetSpec(
    dg.AssetKey(DEMO_TABLE.split(".")),
    description="The demo Iceberg table `make run` seeds (events over four days).",
    kinds={"iceberg"},
)

defs = _build()
