"""`LakehouseSchemaMigrator`: Phlo's ``schema_migrator`` capability on our SchemaManager.

``diff_schema`` compares Phlo's normalized desired schema with the table's current one using
Phlo's own planner (``phlo.schema_migration.planning``), so the change kinds and
classifications are the ones ``phlo schema-migrate`` shows. ``apply_plan`` applies the whole
plan in one validated schema commit through our executor (access checks, telemetry, audit), or
applies nothing: every change kind is either carried out or refused before the commit — none is
skipped silently. What Iceberg cannot do is refused with a reason: narrowing a type or a
promotion Iceberg readers do not apply (``int64 → float64``, ``date → timestamptz``), making a
column required, adding a required column to a table with rows, and reordering.

As phlo-iceberg does, Phlo's ingestion columns (``_dlt_*``, ``_phlo_*``) are left out of the
current schema: desired schemas never list them, and they are not dropped.

Example:
    >>> migrator = LakehouseSchemaMigrator(env={"PHLO_LAKEHOUSE_HOME": "/tmp/phlo-doc"})
    >>> sorted(migrator.supported_changes())
    ['add', 'drop', 'nullability_relaxed', 'rename', 'widen_type']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.phlo_adapter.environment import LakehouseFromEnvironment

if TYPE_CHECKING:
    from phlo.capabilities.specs import NormalizedSchema, SchemaMigrationPlan
    from pyiceberg.table.snapshots import Snapshot
    from pyiceberg.types import IcebergType


SUPPORTED = frozenset({"add", "drop", "rename", "widen_type", "nullability_relaxed"})
#: Columns Phlo's ingestion adds (phlo-dlt); desired schemas never list them.
SYSTEM_FIELDS = frozenset(
    {
        "_dlt_load_id",
        "_dlt_id",
        "_phlo_ingested_at",
        "_phlo_row_id",
        "_phlo_partition_date",
        "_phlo_run_id",
    }
)
#: Phlo's dtype names ↔ Iceberg type names.
_DTYPES = {
    "int32": "int",
    "int64": "long",
    "float32": "float",
    "float64": "double",
    "bool": "boolean",
    "string": "string",
    "binary": "binary",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "uuid": "uuid",
}
_FROM_ICEBERG = {v: k for k, v in _DTYPES.items()}
_REASONS = {
    "narrow_type": "Iceberg cannot narrow a column type; add a new column and backfill it",
    "nullability_tightened": "Iceberg cannot make an existing column required safely; "
    "existing rows may hold nulls",
    "reorder": "column order is not migrated; columns are matched by id and name",
}


def dtype_of(kind: IcebergType) -> str:
    """Phlo's dtype name for an Iceberg type ("int64", "decimal(10, 2)", "struct<…>").

    Example:
        >>> from pyiceberg.types import LongType
        >>> dtype_of(LongType())
        'int64'
    """
    text = str(kind)
    return _FROM_ICEBERG.get(text, text)


def iceberg_type(dtype: str, *, column: str) -> IcebergType:
    """The Iceberg type for Phlo's ``dtype``.

    Raises:
        InvalidInput: a dtype Iceberg has no type for.
    """
    from phlo_lakehouse.operations.schema_ops import parse_type

    return parse_type(_DTYPES.get(dtype, dtype), column=column)


class LakehouseSchemaMigrator(LakehouseFromEnvironment):
    """Phlo's ``SchemaMigrator`` protocol over phlo-lakehouse.

    Args:
        ref: the ref to migrate (default: the catalog's default ref).
        lakehouse: the lakehouse (default: from the environment, with the Phlo hooks).
        env: where settings are read (default: ``os.environ``).
    """

    def supported_changes(self) -> set[str]:
        """The change kinds ``apply_plan`` carries out."""
        return set(SUPPORTED)

    def classify_change(self, change_type: str, **details: Any) -> str:
        """Phlo's classification, except that a type change Iceberg cannot promote breaks."""
        from phlo.schema_migration.planning import classify_schema_change

        old, new = details.get("old_value"), details.get("new_value")
        if change_type == "widen_type" and old and new and not _promotes(old, new):
            return "breaking"
        return classify_schema_change(change_type, **details)

    def diff_schema(
        self, *, table_name: str, desired: NormalizedSchema, instructions: Any = None
    ) -> SchemaMigrationPlan:
        """The changes that take ``table_name`` to ``desired`` (nothing changes)."""
        from dataclasses import replace

        from phlo.capabilities.schema import worst_classification
        from phlo.capabilities.specs import FieldSpec, NormalizedSchema
        from phlo.schema_migration.planning import plan_schema_migration

        schema = self.lakehouse().get_table(table_name, self._ref).table.schema()
        current = NormalizedSchema(
            fields=[
                FieldSpec(name=f.name, dtype=dtype_of(f.field_type), nullable=not f.required)
                for f in schema.fields
                if f.name not in SYSTEM_FIELDS
            ]
        )
        plan = plan_schema_migration(
            table_name=table_name, current=current, desired=desired, instructions=instructions
        )
        changes = [
            replace(
                c,
                classification=self.classify_change(
                    c.change_type, old_value=c.old_value, new_value=c.new_value
                ),
            )
            if c.change_type == "widen_type"
            else c
            for c in plan.changes
        ]
        worst = worst_classification([c.classification for c in changes])
        notes = [_REASONS[c.change_type] for c in changes if c.change_type in _REASONS]
        notes += [
            f"{c.field_name}: {c.old_value} → {c.new_value} is not an Iceberg promotion"
            for c in changes
            if c.change_type == "widen_type" and c.classification == "breaking"
        ]
        return replace(
            plan,
            changes=changes,
            classification=worst,
            requires_approval=worst == "breaking",
            recommendations=[*plan.recommendations, *dict.fromkeys(notes)],
        )

    def apply_plan(self, *, plan: SchemaMigrationPlan, approved: bool = False) -> dict[str, Any]:
        """Apply every change of ``plan`` in one schema commit, or none.

        Raises:
            InvalidInput: breaking changes without ``approved``, or a change Iceberg cannot make
                (nothing is changed then).
        """
        from phlo_lakehouse.operations.schema_ops import (
            EvolveSchemaOperation,
            NewColumn,
            SchemaChanges,
        )

        if plan.requires_approval and not approved:
            raise InvalidInput(
                f"the schema plan for {plan.table_name} has breaking changes",
                hint="review it and apply with approval (approved=True)",
            )
        refused = [c for c in plan.changes if c.change_type not in SUPPORTED]
        if refused:
            first = refused[0]
            raise InvalidInput(
                f"cannot apply {first.change_type} of {first.field_name} to {plan.table_name}: "
                f"{_REASONS.get(first.change_type, 'not a change Iceberg supports')}; "
                "nothing was changed",
                hint="remove it from the desired schema or migrate that column by hand",
            )
        if not plan.changes:
            return {"status": "noop", "table_name": plan.table_name, "applied_count": 0}
        by_kind: dict[str, list[Any]] = {kind: [] for kind in SUPPORTED}
        for change in plan.changes:
            by_kind[change.change_type].append(change)
        changes = SchemaChanges.of(
            add_columns=[
                NewColumn(
                    c.field_name,
                    iceberg_type(c.new_value or "", column=c.field_name),
                    required=c.classification != "safe",
                )
                for c in by_kind["add"]
            ],
            drop_columns=[c.field_name for c in by_kind["drop"]],
            rename_columns={c.old_value or c.field_name: c.new_value for c in by_kind["rename"]},
            widen_types={
                c.field_name: iceberg_type(c.new_value or "", column=c.field_name)
                for c in by_kind["widen_type"]
            },
            make_optional=[c.field_name for c in by_kind["nullability_relaxed"]],
        )
        result = self.lakehouse().run(EvolveSchemaOperation(changes), plan.table_name, self._ref)
        applied = [f"{c.change_type}:{c.field_name}" for c in plan.changes]
        return {
            "status": "applied",
            "table_name": plan.table_name,
            "applied_count": len(applied),
            "changes_applied": applied,
            "snapshot_id": result.snapshot_id_after,
            "schema_id": self.lakehouse()
            .get_table(plan.table_name, self._ref)
            .table.schema()
            .schema_id,
        }

    def get_schema_history(self, *, table_name: str, limit: int = 10) -> list[dict[str, Any]]:
        """Schema versions, newest first: id, fields, whether current, and the first commit
        that wrote with it."""
        table = self.lakehouse().get_table(table_name, self._ref).table
        metadata = table.metadata
        first_use: dict[int, Snapshot] = {}
        for snapshot in sorted(metadata.snapshots, key=lambda s: s.timestamp_ms):
            if snapshot.schema_id is not None:
                first_use.setdefault(snapshot.schema_id, snapshot)
        entries = []
        for schema in sorted(metadata.schemas, key=lambda s: s.schema_id, reverse=True)[:limit]:
            first = first_use.get(schema.schema_id)
            entries.append(
                {
                    "schema_id": schema.schema_id,
                    "current": schema.schema_id == metadata.current_schema_id,
                    "fields": [
                        {
                            "name": f.name,
                            "dtype": dtype_of(f.field_type),
                            "nullable": not f.required,
                        }
                        for f in schema.fields
                    ],
                    "first_snapshot_id": first.snapshot_id if first else None,
                    "timestamp_ms": first.timestamp_ms if first else None,
                }
            )
        return entries


def _promotes(old: str, new: str) -> bool:
    """True when Iceberg readers promote ``old`` to ``new`` (int→long, float→double, decimal
    precision)."""
    from phlo_lakehouse.operations.schema_ops import is_widening

    try:
        return is_widening(iceberg_type(old, column="old"), iceberg_type(new, column="new"))
    except InvalidInput:
        return False
