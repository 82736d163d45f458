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
from phlo_lakehouse.dagster.translator import LakehouseTranslator, literal_tables_by_key
from phlo_lakehouse.errors import NotFound
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
    translator = translator or LakehouseTranslator()
    by_key = literal_tables_by_key(tables, translator)
    idents = list(by_key.values())
    if not idents:
        return []
    specs = [
        dg.AssetCheckSpec(name, asset=key, description=f"Schema compatibility ({mode})")
        for key in by_key
    ]

    @dg.multi_asset_check(
        name=f"{name}_{_suffix(idents, mode)}",
        specs=specs,
        can_subset=True,
        required_resource_keys={resource_key},
    )
    def _schema_checks(context: dg.AssetCheckExecutionContext):
        lakehouse: LakehouseResource = getattr(context.resources, resource_key)
        for check_key in context.selected_asset_check_keys:
            try:
                handle = lakehouse.get_table(by_key[check_key.asset_key], ref)
            except NotFound as error:
                yield dg.AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=name,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"error": str(error)},
                )
                continue
            yield _evaluate(check_key.asset_key, name, handle, mode, severity)

    return [_schema_checks]


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


def _suffix(idents: list, mode: str) -> str:
    import hashlib

    text = ",".join(sorted(map(str, idents))) + mode
    return hashlib.sha1(text.encode()).hexdigest()[:8]
