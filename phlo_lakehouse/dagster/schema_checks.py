"""`schema_compatibility_checks`: one asset check per table, on its asset key, failing when the
table's newest schema breaks compatibility with the previous one (or, for ``*_TRANSITIVE``
modes, with any earlier one).

Example:
    >>> import dagster as dg
    >>> from phlo_lakehouse.dagster import LakehouseResource
    >>> checks = schema_compatibility_checks(tables=["raw.events"], mode="BACKWARD")
    >>> defs = dg.Definitions(asset_checks=checks, resources={"lakehouse": LakehouseResource()})
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.dagster.table_checks import per_table_checks
from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.schema_diff import check_compatibility, diff_schemas, normalize_mode

CHECK_NAME = "lakehouse_schema_compatibility"


def schema_compatibility_checks(
    *,
    tables: Sequence[str],
    mode: str = "BACKWARD",
    translator: LakehouseTranslator | None = None,
    resource_key: str = "lakehouse",
    ref: str | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    name: str = CHECK_NAME,
) -> list[dg.AssetChecksDefinition]:
    """One check per table, on ``translator.get_asset_key(table)``, failing when the newest
    schema version breaks ``mode`` against the previous one (``*_TRANSITIVE``: any earlier one).

    Args:
        tables: literal table identifiers (asset keys are needed at definition time).
        mode: BACKWARD, FORWARD, FULL, their ``_TRANSITIVE`` forms, or NONE.
        translator: table → asset key.
        resource_key: key of the `LakehouseResource`.
        ref: the ref whose table metadata is read.
        severity: severity of a failed check (a missing table is always ERROR).
        name: the check name on each asset.

    Raises:
        InvalidInput: a wildcard table selector or an unknown mode (at definition time).
    """
    mode = normalize_mode(mode)

    def evaluate(
        lakehouse: LakehouseResource, ident: TableIdentifier, key: dg.AssetKey
    ) -> dg.AssetCheckResult:
        return _evaluate(key, name, lakehouse.get_table(ident, ref), mode, severity)

    return per_table_checks(
        name=name,
        tables=tables,
        translator=translator,
        resource_key=resource_key,
        description=f"Schema compatibility ({mode})",
        evaluate=evaluate,
        salt=mode,
    )


def _evaluate(
    asset_key: dg.AssetKey, name: str, handle: Any, mode: str, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    history = sorted(handle.table.metadata.schemas, key=lambda s: s.schema_id)
    metadata: dict[str, Any] = {"mode": mode, "schema_versions": len(history)}
    if len(history) < 2:
        return dg.AssetCheckResult(
            asset_key=asset_key, check_name=name, passed=True, metadata=metadata
        )
    newest, previous = history[-1], history[:-1]
    report = check_compatibility(newest, previous, mode)
    diff = diff_schemas(previous[-1], newest)
    metadata.update(
        {
            "schema_id": newest.schema_id,
            "checked_against": ", ".join(str(i) for i in report.checked_against),
            "changes": "; ".join(f"{c.kind} {c.path}" for c in diff.changes) or "none",
            "breaking_changes": "\n".join(
                f"{b.path} ({b.direction}, vs schema {b.against_schema_id}): {b.reason}"
                for b in report.breaking
            )
            or "none",
        }
    )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=report.compatible,
        severity=severity,
        metadata=metadata,
    )
