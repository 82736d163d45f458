"""Dagster resources for table history and schemas, and an asset check for schema compatibility.

- `SnapshotResource`: `SnapshotManager`'s reads and ref changes (changes run through the
  `LakehouseResource`'s executor path, so metrics are pushed as for maintenance).
- `SchemaResource`: `SchemaManager`'s evolution, diffs, compatibility checks and exports.
- `schema_compatibility_checks`: one check per table, on its asset key, failing when the
  table's newest schema breaks compatibility with the previous one (or, for ``*_TRANSITIVE``
  modes, with any earlier one).

Example:
    >>> import dagster as dg
    >>> from phlo_lakehouse.dagster import LakehouseResource
    >>> lakehouse = LakehouseResource()
    >>> checks = schema_compatibility_checks(tables=["raw.events"], mode="BACKWARD")
    >>> defs = dg.Definitions(
    ...     asset_checks=checks,
    ...     resources={"lakehouse": lakehouse, "snapshots": SnapshotResource(lakehouse=lakehouse)},
    ... )
"""

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.dagster.translator import LakehouseTranslator, literal_tables_by_key
from phlo_lakehouse.errors import NotFound
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.operations.base import OperationResult
from phlo_lakehouse.schema import (
    CompatibilityReport,
    SchemaDiff,
    SchemaManager,
    check_compatibility,
    diff_schemas,
    normalize_mode,
)
from phlo_lakehouse.snapshots import SnapshotInfo, SnapshotManager

if TYPE_CHECKING:
    import pyarrow as pa

CHECK_NAME = "lakehouse_schema_compatibility"
Table = str | TableIdentifier


class SnapshotResource(dg.ConfigurableResource):
    """Snapshots, refs and time travel (`SnapshotManager`) over a `LakehouseResource`.

    Example:
        >>> SnapshotResource(lakehouse=LakehouseResource()).manager()   # doctest: +SKIP
    """

    lakehouse: LakehouseResource = Field(description="The lakehouse whose tables are managed.")

    def manager(self) -> SnapshotManager:
        """The `SnapshotManager`, running operations through the lakehouse resource."""
        return SnapshotManager(self.lakehouse.get_lakehouse(), run=self.lakehouse.run)

    def list_snapshots(self, table: Table, ref: str | None = None) -> list[SnapshotInfo]:
        """See `SnapshotManager.list_snapshots`."""
        return self.manager().list_snapshots(table, ref)

    def get_snapshot(self, table: Table, snapshot_id: int, ref: str | None = None) -> SnapshotInfo:
        """See `SnapshotManager.get_snapshot`."""
        return self.manager().get_snapshot(table, snapshot_id, ref)

    def read(self, table: Table, **kwargs: Any) -> "pa.Table":
        """Time-travel read (snapshot_id=, as_of= or tag=); see `SnapshotManager.read`."""
        return self.manager().read(table, **kwargs)

    def expire_snapshots(self, table: Table, **kwargs: Any) -> OperationResult:
        """See `SnapshotManager.expire_snapshots`."""
        return self.manager().expire_snapshots(table, **kwargs)

    def rollback_to_snapshot(self, table: Table, snapshot_id: int, **kw: Any) -> OperationResult:
        """See `SnapshotManager.rollback_to_snapshot`."""
        return self.manager().rollback_to_snapshot(table, snapshot_id, **kw)

    def rollback_to_timestamp(
        self, table: Table, timestamp: datetime | int | str, **kw: Any
    ) -> OperationResult:
        """See `SnapshotManager.rollback_to_timestamp`."""
        return self.manager().rollback_to_timestamp(table, timestamp, **kw)

    def set_current_snapshot(self, table: Table, snapshot_id: int, **kw: Any) -> OperationResult:
        """See `SnapshotManager.set_current_snapshot`."""
        return self.manager().set_current_snapshot(table, snapshot_id, **kw)

    def create_tag(self, table: Table, name: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.create_tag`."""
        return self.manager().create_tag(table, name, **kw)

    def create_branch(self, table: Table, name: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.create_branch`."""
        return self.manager().create_branch(table, name, **kw)

    def remove_ref(self, table: Table, name: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.remove_ref`."""
        return self.manager().remove_ref(table, name, **kw)

    def fast_forward(self, table: Table, branch: str, to: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.fast_forward`."""
        return self.manager().fast_forward(table, branch, to, **kw)

    def cherry_pick(self, table: Table, snapshot_id: int, **kw: Any) -> OperationResult:
        """See `SnapshotManager.cherry_pick`."""
        return self.manager().cherry_pick(table, snapshot_id, **kw)


class SchemaResource(dg.ConfigurableResource):
    """Schema evolution, diffs, compatibility and export (`SchemaManager`).

    Example:
        >>> SchemaResource(lakehouse=LakehouseResource()).manager()     # doctest: +SKIP
    """

    lakehouse: LakehouseResource = Field(description="The lakehouse whose tables are managed.")

    def manager(self) -> SchemaManager:
        """The `SchemaManager`, running operations through the lakehouse resource."""
        return SchemaManager(self.lakehouse.get_lakehouse(), run=self.lakehouse.run)

    def evolve_schema(self, table: Table, **changes: Any) -> OperationResult:
        """See `SchemaManager.evolve_schema`."""
        return self.manager().evolve_schema(table, **changes)

    def diff_schemas(self, table: Table, *args: Any, **kwargs: Any) -> SchemaDiff:
        """See `SchemaManager.diff_schemas`."""
        return self.manager().diff_schemas(table, *args, **kwargs)

    def validate_evolution(self, table: Table, *args: Any, **kwargs: Any) -> CompatibilityReport:
        """See `SchemaManager.validate_evolution`."""
        return self.manager().validate_evolution(table, *args, **kwargs)

    def export_schema(self, table: Table, format: str = "markdown", **kwargs: Any) -> str:
        """See `SchemaManager.export_schema`."""
        return self.manager().export_schema(table, format, **kwargs)


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
