"""`LakehouseDagsterExtension`: table upkeep in every Phlo project, with no code.

phlo-dagster merges the definitions of every ``phlo.plugins.dagster`` entry point into the
Definitions it generates for a Phlo project; ours are the maintenance jobs, their schedules, the
stats asset checks and the auto-maintenance sensor — built by our public factories through
`LakehouseMaintenanceComponent`, with `PhloAssetTranslator` so that observations and checks land
on the asset keys Phlo generated (``dlt_events`` for phlo-dlt's ``raw.events``).

Configuration is the ``lakehouse:`` section of the project's ``phlo.yaml``, in the Component's
vocabulary (``tables``, ``ref``, ``optimize``/``expire``/…, ``schedules``, ``checks``,
``thresholds``, ``sensor``, ``triggers``, ``catalog``). Left out:

- ``tables``: the tables Phlo's assets write, else every table (``*.*``);
- ``checks``: the tables Phlo's assets write;
- ``schedules``: ``lakehouse_maintenance`` nightly at 03:00 UTC, STOPPED until turned on;
- ``sensor``: on (the sensor itself starts STOPPED);
- ``catalog``: from the environment (Phlo's ``NESSIE_*``/``MINIO_*`` variables work).

The resource runs with the Phlo hooks (``phlo=True``): Phlo telemetry and authorization.
Loading does no I/O beyond reading ``phlo.yaml``: tables are resolved when a run starts.

Example:
    >>> defs = phlo_project_definitions({"tables": ["raw.*"]}, PhloAssetTranslator({}))
    >>> sorted(j.name for j in defs.jobs)[:2]
    ['lakehouse_compute_table_stats', 'lakehouse_expire']
"""

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from phlo.plugins.base.plugin import PluginMetadata
from phlo_dagster.dagster_ext import DagsterExtensionPlugin

from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.phlo_adapter.asset_keys import PhloAssetTranslator

logger = logging.getLogger(__name__)

SECTION = "lakehouse"
DEFAULT_SCHEDULE = {
    "job": "lakehouse_maintenance",
    "cron": "0 3 * * *",
    "timezone": "UTC",
    "default_status": "STOPPED",
}


class LakehouseDagsterExtension(DagsterExtensionPlugin):
    """phlo-dagster's extension point for our maintenance definitions.

    Example:
        >>> LakehouseDagsterExtension().metadata.name
        'lakehouse'
    """

    @property
    def metadata(self) -> PluginMetadata:
        """Name, version and description."""
        from phlo_lakehouse.cli.main import package_version

        return PluginMetadata(
            name=SECTION,
            version=package_version(),
            description="Iceberg maintenance jobs, schedules, stats checks and sensor",
            license="Apache-2.0",
            tags=["iceberg", "maintenance", "dagster"],
        )

    def get_definitions(self) -> dg.Definitions:
        """The project's maintenance definitions (see the module docstring)."""
        return phlo_project_definitions()


def project_config(root: Path | None = None) -> dict[str, Any]:
    """The ``lakehouse:`` section of ``phlo.yaml`` in the project (``PHLO_PROJECT_PATH``, else
    the working directory); empty when there is none.

    Raises:
        InvalidConfig: ``phlo.yaml`` is not YAML, or the section is not a mapping.
    """
    root = root or Path(os.environ.get("PHLO_PROJECT_PATH") or Path.cwd())
    path = root / "phlo.yaml"
    if not path.is_file():
        return {}
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise InvalidConfig(f"{path} is not valid YAML", hint="fix its syntax") from e
    section = document.get(SECTION) if isinstance(document, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InvalidConfig(
            f"the {SECTION}: section of {path} must be a mapping",
            hint="e.g. lakehouse: {tables: ['raw.*']}",
        )
    return section


def phlo_project_definitions(
    config: Mapping[str, Any] | None = None,
    translator: PhloAssetTranslator | None = None,
) -> dg.Definitions:
    """Our definitions for a Phlo project.

    Args:
        config: the ``lakehouse:`` settings (default: read from ``phlo.yaml``).
        translator: table → asset key (default: from the assets Phlo has registered).

    Raises:
        InvalidConfig: the settings are not valid Component attributes.
    """
    from phlo_lakehouse.dagster.component import LakehouseMaintenanceComponent

    given = dict(project_config() if config is None else config)
    translator = translator if translator is not None else PhloAssetTranslator.from_phlo()
    attributes = {
        "tables": translator.tables or ["*.*"],
        "checks": translator.tables,
        "schedules": [DEFAULT_SCHEDULE],
        "sensor": True,
        **given,
    }
    attributes["catalog"] = {**(given.get("catalog") or {}), "phlo": True}
    try:
        component = LakehouseMaintenanceComponent.resolve_from_yaml(yaml.safe_dump(attributes))
    except Exception as e:  # Dagster's resolution errors name the bad attribute
        raise InvalidConfig(
            f"the {SECTION}: section of phlo.yaml is not valid: {_first_line(e)}",
            hint="its keys are LakehouseMaintenanceComponent's attributes (docs/phlo.md)",
        ) from e
    logger.info(
        "phlo-lakehouse definitions: tables %s, checks on %d Phlo assets",
        component.tables,
        len(component.checks),
    )
    return component.definitions(translator=translator)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
