"""The one shape of the lakehouse's asset checks: one check per literal table, run as a single
subsettable multi-asset check; a table that cannot be found fails its check with ERROR.

Used by `phlo_lakehouse.dagster.checks` (statistics) and `phlo_lakehouse.dagster.schema_checks`
(schema compatibility).
"""

# No `from __future__ import annotations`: Dagster reads the check function's `context` annotation.
import hashlib
from collections.abc import Callable, Iterator, Sequence

import dagster as dg

from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.dagster.translator import LakehouseTranslator, literal_tables_by_key
from phlo_lakehouse.errors import NotFound
from phlo_lakehouse.identifiers import TableIdentifier

#: Evaluates one table's check: (resource, table, asset key) → result; raises `NotFound`
#: when the table is missing.
Evaluate = Callable[[LakehouseResource, TableIdentifier, dg.AssetKey], dg.AssetCheckResult]


def per_table_checks(
    *,
    name: str,
    tables: Sequence[str],
    translator: LakehouseTranslator | None,
    resource_key: str,
    description: str,
    evaluate: Evaluate,
    salt: str = "",
    automation_condition: dg.AutomationCondition | None = None,
) -> list[dg.AssetChecksDefinition]:
    """A check ``name`` on each table's asset key, evaluated by ``evaluate`` (none when
    ``tables`` is empty); the definition's name is ``name`` plus a hash of the tables and
    ``salt``, so that several sets of checks can stand in one code location.

    Raises:
        InvalidInput: a wildcard table selector.
    """
    by_key = literal_tables_by_key(tables, translator or LakehouseTranslator())
    if not by_key:
        return []
    specs = [
        dg.AssetCheckSpec(
            name, asset=key, description=description, automation_condition=automation_condition
        )
        for key in by_key
    ]
    text = ",".join(sorted(map(str, by_key.values()))) + salt

    @dg.multi_asset_check(
        name=f"{name}_{hashlib.sha1(text.encode()).hexdigest()[:8]}",
        specs=specs,
        can_subset=True,
        required_resource_keys={resource_key},
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        lakehouse: LakehouseResource = getattr(context.resources, resource_key)
        for check_key in context.selected_asset_check_keys:
            try:
                yield evaluate(lakehouse, by_key[check_key.asset_key], check_key.asset_key)
            except NotFound as error:
                yield dg.AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=name,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"error": str(error)},
                )

    return [_checks]
