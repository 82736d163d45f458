"""The Dagster adapter layer: resources, maintenance factories, checks, sensors and a Component."""

from phlo_lakehouse.dagster.factories import (
    MAINTENANCE_TAG,
    MaintenanceSchedule,
    lakehouse_maintenance_definitions,
)
from phlo_lakehouse.dagster.resources import LakehouseResource, MetadataResource
from phlo_lakehouse.dagster.translator import LakehouseTranslator

__all__ = [
    "MAINTENANCE_TAG",
    "LakehouseResource",
    "LakehouseTranslator",
    "MaintenanceSchedule",
    "MetadataResource",
    "lakehouse_maintenance_definitions",
]
