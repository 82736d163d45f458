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

Every attribute is typed in the component's JSON Schema, so ``dg check yaml`` rejects a bad
size, duration, cron string, timezone, selector, threshold or an unknown key before anything
loads; loading validates the same values again with the Python parsers. ``dg scaffold defs
phlo_lakehouse.dagster.LakehouseMaintenanceComponent NAME`` writes a starting ``defs.yaml``.
"""

import functools
from dataclasses import dataclass, field
from typing import Annotated, Any

import dagster as dg
import pydantic

from phlo_lakehouse.dagster import yaml_schema as ys
from phlo_lakehouse.dagster.checks import StatsThresholds, table_stats_checks
from phlo_lakehouse.dagster.factories import (
    JOB_KINDS,
    RETENTION_JOB,
    MaintenanceSchedule,
    lakehouse_maintenance_definitions,
)
from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.dagster.sensors import MaintenanceTriggers, auto_maintenance_sensor
from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.vocabulary import speaking


def _attribute(schema: dict[str, Any], description: str, examples: list[Any]) -> dg.Resolver:
    return dg.Resolver.default(
        description=description, examples=examples, json_schema_extra=ys.or_template(schema)
    )


def _selectors(context: dg.ResolutionContext, value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


_SELECTORS = {
    "anyOf": [{}],
    "if": ys.TEMPLATE,
    "then": {},
    "else": {
        "type": ["array", "string"],
        "items": {"type": "string", "pattern": ys.SELECTOR_PATTERN},
        "pattern": ys.SELECTOR_PATTERN,
    },
}
_THRESHOLDS = ys.closed_object(
    {
        "max_small_file_ratio": ys.nullable(ys.ratio()),
        "max_snapshots": ys.nullable(ys.count(1)),
        "max_delete_files": ys.nullable(ys.count()),
        "max_commit_age": ys.nullable(ys.duration()),
        "min_small_files": ys.count(1),
    }
)
_TRIGGERS = ys.closed_object(
    {
        "min_files": ys.count(1),
        "small_average": {"type": "boolean"},
        "max_delete_files": ys.count(),
        "max_snapshots": ys.count(1),
    }
)


def _defaults(kind: str) -> dg.Resolver:
    return _attribute(
        ys.settings_schema(kind),
        f"Default {kind} settings in the jobs' run config (the launchpad shows them).",
        [],
    )


#: What ``dg scaffold defs phlo_lakehouse.dagster.LakehouseMaintenanceComponent NAME`` writes.
SCAFFOLD_ATTRIBUTES: dict[str, Any] = {
    "tables": ["*.*"],
    "optimize": {"target_file_size": "128MB"},
    "expire": {"older_than": "5d", "retain_last": 1},
    "vacuum": {"older_than": "3d"},
    "schedules": [
        {"job": "lakehouse_expire", "cron": "0 2 * * *", "timezone": "UTC"},
        {"job": "lakehouse_vacuum", "cron": "0 3 * * 0", "timezone": "UTC"},
    ],
    "checks": [],
    "sensor": False,
}


class LakehouseMaintenanceScaffolder(dg.Scaffolder):
    """Writes a ``defs.yaml`` with every kind of attribute filled in (schedules stopped)."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        """Write the component's ``defs.yaml`` (or Python) at ``request.target_path``."""
        dg.scaffold_component(request, SCAFFOLD_ATTRIBUTES)


@dg.scaffold_with(LakehouseMaintenanceScaffolder)
@dataclass
class LakehouseMaintenanceComponent(dg.Component, dg.Resolvable):
    """Maintenance jobs, schedules, stats checks and the auto-maintenance sensor from YAML.

    Attributes:
        tables: selectors resolved at run time (one selector or a list).
        ref: branch to maintain.
        optimize / expire / vacuum / rewrite_manifests / compute_table_stats /
            rewrite_position_deletes: default run-config settings.
        data_retention: ``{column, retention}``: adds the ``lakehouse_data_retention`` job.
        schedules: entries with job, cron, timezone, default_status, run_config, description.
        checks: literal table names to attach stats checks to.
        thresholds: `StatsThresholds` fields for the checks.
        sensor: add the auto-maintenance sensor.
        triggers: `MaintenanceTriggers` fields for the sensor.
        catalog: `LakehouseResource` fields; omitted: the environment decides.
        resource_key: key the resource is bound to.

    Example:
        >>> component = LakehouseMaintenanceComponent.resolve_from_yaml("tables: raw.*")
        >>> component.tables
        ['raw.*']
    """

    tables: Annotated[
        list[str],
        dg.Resolver(
            _selectors,
            model_field_type=list[str] | str,
            description="Tables to maintain: namespace.table with optional wildcards, "
            "resolved when a run starts.",
            examples=[["raw.*", "mart.sales"], "*.*"],
            json_schema_extra=_SELECTORS,
        ),
    ] = field(default_factory=lambda: ["*.*"])
    ref: Annotated[
        str | None,
        _attribute(
            ys.nullable({"type": "string", "pattern": ys.REF_PATTERN}),
            "Branch to maintain; default: the resource's default_ref.",
            ["main", "etl"],
        ),
    ] = None
    optimize: Annotated[dict[str, Any], _defaults("optimize")] = field(default_factory=dict)
    expire: Annotated[dict[str, Any], _defaults("expire")] = field(default_factory=dict)
    vacuum: Annotated[dict[str, Any], _defaults("vacuum")] = field(default_factory=dict)
    rewrite_manifests: Annotated[dict[str, Any], _defaults("rewrite_manifests")] = field(
        default_factory=dict
    )
    compute_table_stats: Annotated[dict[str, Any], _defaults("compute_table_stats")] = field(
        default_factory=dict
    )
    rewrite_position_deletes: Annotated[dict[str, Any], _defaults("rewrite_position_deletes")] = (
        field(default_factory=dict)
    )
    data_retention: Annotated[
        dict[str, Any] | None,
        _attribute(
            ys.nullable(ys.settings_schema("data_retention", required=True)),
            "Rows older than retention on column are deleted by lakehouse_data_retention "
            "(omitted: no such job).",
            [{"column": "event_time", "retention": "365d"}],
        ),
    ] = None
    schedules: Annotated[
        list[dict[str, Any]],
        _attribute(
            ys.schedules_schema([*JOB_KINDS, RETENTION_JOB]),
            "Schedules of the maintenance jobs.",
            [[{"job": "lakehouse_expire", "cron": "0 3 * * *", "timezone": "UTC"}]],
        ),
    ] = field(default_factory=list)
    checks: Annotated[
        list[str],
        _attribute(
            {"type": "array", "items": {"type": "string", "pattern": ys.TABLE_PATTERN}},
            "Tables (literal names) that get a stats asset check on their asset.",
            [["raw.events"]],
        ),
    ] = field(default_factory=list)
    thresholds: Annotated[
        dict[str, Any],
        _attribute(_THRESHOLDS, "When a stats check warns.", [{"max_snapshots": 50}]),
    ] = field(default_factory=dict)
    sensor: Annotated[
        bool,
        _attribute({"type": "boolean"}, "Add the auto-maintenance sensor.", [True]),
    ] = False
    triggers: Annotated[
        dict[str, Any],
        _attribute(_TRIGGERS, "When the sensor requests maintenance.", [{"min_files": 50}]),
    ] = field(default_factory=dict)
    catalog: Annotated[
        dict[str, Any] | None,
        _attribute(
            ys.nullable(ys.closed_object({name: {} for name in LakehouseResource.model_fields})),
            "LakehouseResource fields; omitted: the environment decides the catalog.",
            [{"home": ".lakehouse"}],
        ),
    ] = None
    resource_key: Annotated[
        str,
        _attribute(
            {"type": "string", "pattern": ys.KEY_PATTERN},
            "Resource key the lakehouse is bound to.",
            ["lakehouse"],
        ),
    ] = "lakehouse"

    @classmethod
    def get_model_cls(cls) -> type[pydantic.BaseModel]:
        """The YAML model; its JSON Schema lists the known timezones (see `yaml_schema`)."""
        return _with_timezones(super().get_model_cls())

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        with speaking("dagster"):  # a bad setting reads as its YAML key
            return self.definitions()

    def definitions(self, *, translator: LakehouseTranslator | None = None) -> dg.Definitions:
        """The component's definitions, with ``translator`` mapping tables to the asset keys
        observations and checks land on (Phlo's extension passes the keys Phlo generates)."""
        maintenance = lakehouse_maintenance_definitions(
            tables=self.tables,
            ref=self.ref,
            optimize=self.optimize,
            expire=self.expire,
            vacuum=self.vacuum,
            rewrite_manifests=self.rewrite_manifests,
            compute_table_stats=self.compute_table_stats,
            rewrite_position_deletes=self.rewrite_position_deletes,
            data_retention=self.data_retention,
            schedules=[MaintenanceSchedule(**s) for s in self.schedules],
            resource_key=self.resource_key,
            translator=translator,
        )
        extra = dg.Definitions(
            asset_checks=table_stats_checks(
                tables=self.checks,
                thresholds=StatsThresholds(**self.thresholds),
                translator=translator,
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


@functools.cache
def _with_timezones(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """``model`` whose JSON Schema also carries the timezone enums (validation is unchanged)."""
    base = model.model_config.get("json_schema_extra") or {}
    if not isinstance(base, dict):
        raise TypeError(f"{model.__name__}.model_config's json_schema_extra is not a dict")

    def extra(schema: dict[str, Any]) -> None:
        schema.update(base)
        ys.fill_timezones(schema)

    config = {**model.model_config, "json_schema_extra": extra}
    return type(model.__name__, (model,), {"model_config": config, "__module__": __name__})
