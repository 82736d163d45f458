"""Declarative automation: keep tables healthy with `AutomationCondition`s instead of a sensor.

`table_maintenance_assets` gives every table a maintenance asset (key ``["lakehouse_maintenance",
*table key]``, downstream of the table's asset) whose materialization runs optimize → expire →
vacuum on that table through the executor. Its default condition requests it when a check on the
table — the stats check of `table_stats_checks` — newly fails, and not while it is in progress.
Give the stats checks a condition too (``automation_condition=`` of `table_stats_checks`, e.g.
`check_on_cron`) and Dagster's automation sensor re-checks the tables and maintains those past
their thresholds, with no code of ours running on a tick.

Example:
    >>> import dagster as dg
    >>> from phlo_lakehouse.dagster import LakehouseResource, table_stats_checks
    >>> defs = dg.Definitions(
    ...     assets=[table_maintenance_assets(tables=["raw.events"])],
    ...     asset_checks=table_stats_checks(
    ...         tables=["raw.events"], automation_condition=check_on_cron("0 * * * *")
    ...     ),
    ...     sensors=[automation_sensor(tables=["raw.events"])],
    ...     resources={"lakehouse": LakehouseResource()},
    ... )
"""

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.checks import CHECK_NAME
from phlo_lakehouse.dagster.ops import build_operation, maintain_table
from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.dagster.run_config import OPERATION_SETTINGS, default_settings
from phlo_lakehouse.dagster.translator import LakehouseTranslator, literal_tables_by_key
from phlo_lakehouse.errors import InvalidInput

MAINTENANCE_PREFIX = "lakehouse_maintenance"


def table_unhealthy() -> dg.AutomationCondition:
    """True for a maintenance asset when a check on its table newly failed, and it is not
    already being maintained."""
    failed = dg.AutomationCondition.any_checks_match(dg.AutomationCondition.check_failed())
    return (
        dg.AutomationCondition.any_deps_match(failed).newly_true()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("a check on the table newly failed")


def check_on_cron(cron: str, timezone: str = "UTC") -> dg.AutomationCondition:
    """Run a check once per ``cron`` tick (and not while it runs)."""
    return (
        dg.AutomationCondition.cron_tick_passed(cron, timezone)
        & ~dg.AutomationCondition.in_progress()
    ).with_label(f"every '{cron}' ({timezone})")


def automation_sensor(
    *,
    tables: Sequence[str],
    translator: LakehouseTranslator | None = None,
    check_name: str = CHECK_NAME,
    name: str = "lakehouse_automation",
    default_status: str = "RUNNING",
) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the conditions of the tables' maintenance assets and stats
    checks (Dagster's default automation sensor starts stopped, and covers everything else)."""
    keys = literal_tables_by_key(tables, translator)
    return dg.AutomationConditionSensorDefinition(
        name,
        target=dg.AssetSelection.assets(*(k.with_prefix(MAINTENANCE_PREFIX) for k in keys))
        | dg.AssetSelection.checks(*(dg.AssetCheckKey(k, check_name) for k in keys)),
        default_status=dg.DefaultSensorStatus[default_status],
        description="Evaluates the lakehouse automation conditions: stats checks on their "
        "schedule, maintenance of tables whose check failed.",
    )


def table_maintenance_assets(
    *,
    tables: Sequence[str],
    operations: Sequence[str] = ("optimize", "expire", "vacuum"),
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    ref: str | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    translator: LakehouseTranslator | None = None,
    resource_key: str = "lakehouse",
    group_name: str = MAINTENANCE_PREFIX,
) -> dg.AssetsDefinition:
    """One maintenance asset per table, materialized by running ``operations`` on it.

    Args:
        tables: literal table names (asset keys are needed at definition time).
        operations: operation kinds run in order on each selected table.
        settings: per-kind settings, e.g. ``{"expire": {"older_than": "7d"}}``.
        ref: branch to maintain.
        automation_condition: when to maintain (default `table_unhealthy`).
        translator: table → asset key of the table (the maintenance key adds a prefix).
        resource_key: key of the `LakehouseResource`.
        group_name: group of the maintenance assets.

    Raises:
        InvalidInput: wildcard tables, unknown operations or settings (at definition time).
    """
    translator = translator or LakehouseTranslator()
    unknown = [kind for kind in operations if kind not in OPERATION_SETTINGS]
    if unknown:
        raise InvalidInput(
            f"unknown operation(s): {', '.join(unknown)}", hint=", ".join(OPERATION_SETTINGS)
        )
    chosen = {
        kind: {**default_settings(kind), **(settings or {}).get(kind, {})} for kind in operations
    }
    for kind in operations:
        build_operation(kind, chosen[kind])  # bad settings fail now
    by_key = literal_tables_by_key(tables, translator)
    condition = automation_condition or table_unhealthy()
    specs = {
        key.with_prefix(MAINTENANCE_PREFIX): dg.AssetSpec(
            key.with_prefix(MAINTENANCE_PREFIX),
            deps=[key],
            description=f"Maintenance of {ident}: {' → '.join(operations)}.",
            group_name=group_name,
            kinds={"iceberg"},
            automation_condition=condition,
        )
        for key, ident in by_key.items()
    }
    table_of = {key.with_prefix(MAINTENANCE_PREFIX): ident for key, ident in by_key.items()}

    @dg.multi_asset(
        name=f"{MAINTENANCE_PREFIX}_{_digest(sorted(map(str, by_key.values())))}",
        specs=list(specs.values()),
        can_subset=True,
        required_resource_keys={resource_key},
    )
    def _maintain(context: dg.AssetExecutionContext):
        lakehouse: LakehouseResource = getattr(context.resources, resource_key)
        for key in sorted(context.selected_asset_keys):
            table = str(table_of[key])
            lines = []
            for kind in operations:
                operation = build_operation(kind, chosen[kind])
                _, outcome, _ = maintain_table(
                    context, lakehouse, operation, table, ref, translator=translator
                )
                lines.append(outcome.headline)
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "lakehouse/summary": dg.MetadataValue.md("\n".join(f"- {x}" for x in lines)),
                    "lakehouse/operations": dg.MetadataValue.int(len(lines)),
                },
            )

    return _maintain


def _digest(names: list[str]) -> str:
    """A stable name suffix for a set of tables (the same in every process)."""
    return hashlib.sha1(",".join(names).encode()).hexdigest()[:8]
