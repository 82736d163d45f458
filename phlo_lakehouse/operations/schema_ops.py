"""`EvolveSchemaOperation`: add, drop, rename, widen and relax columns in one schema commit,
validated against the current schema before anything is committed.

Validation rejects, with a one-line message and a hint: unknown columns, adding a column that
exists (or a required one, which old data cannot fill), dropping an identifier or partition
source column, and any type change Iceberg cannot read old data through — only ``int → long``,
``float → double`` and widening a decimal's precision (same scale) are allowed.

Columns are named by their full dotted path (``location.lat``); a new nested column is added
under its parent struct (``location.alt``).

Example:
    >>> op = EvolveSchemaOperation(SchemaChanges.of(add_columns={"country": "string"}))
    >>> op.changes.add_columns[0].type
    StringType()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import ColumnNotFound, Conflict, InvalidInput
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.format_support import check_format_support

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.table.update.schema import UpdateSchema
    from pyiceberg.types import IcebergType

    from phlo_lakehouse.table import LakehouseTable

_TYPE_HINT = (
    "use an Iceberg type: boolean, int, long, float, double, decimal(P,S), date, time, "
    "timestamp, timestamptz, string, uuid, binary, fixed[N]"
)
_ALIASES = {
    "integer": "int",
    "bigint": "long",
    "bool": "boolean",
    "varchar": "string",
    "text": "string",
    "real": "float",
    "bytes": "binary",
}


def parse_type(value: str | IcebergType, *, column: str = "column") -> IcebergType:
    """An Iceberg primitive type from its name ("long", "decimal(10, 2)", "fixed[16]").

    Example:
        >>> parse_type("bigint")
        LongType()
    """
    from pydantic import TypeAdapter, ValidationError
    from pyiceberg.types import IcebergType, PrimitiveType

    if isinstance(value, IcebergType):
        return value
    text = str(value).strip().lower()
    try:
        return TypeAdapter(PrimitiveType).validate_python(_ALIASES.get(text, text))
    except (ValidationError, ValueError) as e:
        raise InvalidInput(f"{column}: {value!r} is not an Iceberg type", hint=_TYPE_HINT) from e


def is_widening(old: IcebergType, new: IcebergType) -> bool:
    """True for the promotions Iceberg readers apply: int→long, float→double, decimal(P,S)→
    decimal(P',S) with P' ≥ P (equal types count too).

    Example:
        >>> from pyiceberg.types import IntegerType, LongType
        >>> is_widening(IntegerType(), LongType()), is_widening(LongType(), IntegerType())
        (True, False)
    """
    from pyiceberg.types import DecimalType, DoubleType, FloatType, IntegerType, LongType

    if old == new:
        return True
    if isinstance(old, IntegerType) and isinstance(new, LongType):
        return True
    if isinstance(old, FloatType) and isinstance(new, DoubleType):
        return True
    return (
        isinstance(old, DecimalType)
        and isinstance(new, DecimalType)
        and old.scale == new.scale
        and new.precision >= old.precision
    )


@dataclass(frozen=True)
class NewColumn:
    """A column to add: dotted ``name`` (parent struct first), type, doc, required."""

    name: str
    type: IcebergType
    doc: str | None = None
    required: bool = False


@dataclass(frozen=True)
class SchemaChanges:
    """A set of schema changes applied together in one commit (build with `of`)."""

    add_columns: tuple[NewColumn, ...] = ()
    drop_columns: tuple[str, ...] = ()
    rename_columns: Mapping[str, str] = field(default_factory=dict)
    widen_types: Mapping[str, IcebergType] = field(default_factory=dict)
    make_optional: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        add_columns: Mapping[str, Any] | Sequence[NewColumn] | None = None,
        drop_columns: Iterable[str] = (),
        rename_columns: Mapping[str, str] | None = None,
        widen_types: Mapping[str, Any] | None = None,
        make_optional: Iterable[str] = (),
    ) -> SchemaChanges:
        """Normalise user input: ``add_columns`` maps names to types (or is a list of
        `NewColumn`), ``widen_types`` maps names to wider types.

        Example:
            >>> SchemaChanges.of(rename_columns={"kind": "event_kind"}).rename_columns
            {'kind': 'event_kind'}
        """
        adds = (
            tuple(
                NewColumn(name, parse_type(kind, column=name)) for name, kind in add_columns.items()
            )
            if isinstance(add_columns, Mapping)
            else tuple(
                NewColumn(c.name, parse_type(c.type, column=c.name), c.doc, c.required)
                for c in add_columns or ()
            )
        )
        changes = cls(
            add_columns=adds,
            drop_columns=tuple(drop_columns),
            rename_columns=dict(rename_columns or {}),
            widen_types={k: parse_type(v, column=k) for k, v in (widen_types or {}).items()},
            make_optional=tuple(make_optional),
        )
        if changes.is_empty:
            raise InvalidInput(
                "no schema change given",
                hint="pass add_columns, drop_columns, rename_columns, widen_types or make_optional",
            )
        for new in changes.rename_columns.values():
            if not new or "." in new:
                raise InvalidInput(
                    f"new column name {new!r} is not a plain name",
                    hint="give the new leaf name only; renames keep the column where it is",
                )
        return changes

    @property
    def is_empty(self) -> bool:
        """True when nothing would change."""
        return not (
            self.add_columns
            or self.drop_columns
            or self.rename_columns
            or self.widen_types
            or self.make_optional
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "add_columns": [
                {"name": c.name, "type": str(c.type), "doc": c.doc, "required": c.required}
                for c in self.add_columns
            ],
            "drop_columns": list(self.drop_columns),
            "rename_columns": dict(self.rename_columns),
            "widen_types": {k: str(v) for k, v in self.widen_types.items()},
            "make_optional": list(self.make_optional),
        }

    def validate(self, table: Table) -> None:
        """Check every change against ``table``'s current schema; raise before any commit.

        Raises:
            ColumnNotFound: a named column does not exist.
            InvalidInput: a change Iceberg cannot apply safely.
        """
        schema = table.schema()
        name = ".".join(table.name())
        touched = [*self.rename_columns, *self.widen_types, *self.make_optional]
        for column in [*self.drop_columns, *touched]:
            _field(schema, column, name)
        both = set(self.drop_columns) & set(touched)
        if both:
            raise InvalidInput(
                f"column {sorted(both)[0]} is dropped and changed in the same evolution",
                hint="drop it or change it, not both",
            )
        self._validate_adds(schema, name)
        self._validate_drops(table, schema, name)
        for column, new in self.rename_columns.items():
            parent = column.rpartition(".")[0]
            target = f"{parent}.{new}" if parent else new
            if _exists(schema, target) and target not in self.drop_columns:
                raise InvalidInput(
                    f"cannot rename {column} to {new}: {target} already exists in {name}",
                    hint="pick an unused name, or drop the other column in the same call",
                )
        for column, new_type in self.widen_types.items():
            old = _field(schema, column, name).field_type
            if not old.is_primitive or not is_widening(old, new_type):
                raise InvalidInput(
                    f"cannot change {column} of {name} from {old} to {new_type}",
                    hint="Iceberg only widens int→long, float→double and decimal precision; "
                    "add a new column and backfill it instead",
                )

    def stage(self, update: UpdateSchema) -> UpdateSchema:
        """Stage the changes on a PyIceberg schema builder (renames last: other changes name
        columns by their current names)."""
        for new_column in self.add_columns:
            update.add_column(tuple(new_column.name.split(".")), new_column.type, new_column.doc)
        for column in self.drop_columns:
            update.delete_column(column)
        for column, new_type in self.widen_types.items():
            update.update_column(column, field_type=new_type)
        for column in self.make_optional:
            update.make_column_optional(column)
        for column, new in self.rename_columns.items():
            update.rename_column(column, new)
        return update

    def preview(self, table: Table) -> Schema:
        """The schema the changes would produce (validated, nothing committed)."""
        from phlo_lakehouse._upstream.pyiceberg import preview_schema_update

        self.validate(table)
        return preview_schema_update(self.stage(table.update_schema()))

    def _validate_adds(self, schema: Schema, name: str) -> None:
        from pyiceberg.types import StructType

        for column in self.add_columns:
            parent, _, leaf = column.name.rpartition(".")
            if not leaf:
                raise InvalidInput(f"column name {column.name!r} is empty", hint="name it")
            if _exists(schema, column.name):
                raise InvalidInput(
                    f"column {column.name} already exists in {name}",
                    hint="pick another name, or widen_types to change its type",
                )
            if parent and not isinstance(_field(schema, parent, name).field_type, StructType):
                raise InvalidInput(
                    f"cannot add {column.name}: {parent} is not a struct",
                    hint="add nested columns under a struct column",
                )
            if column.required:
                raise InvalidInput(
                    f"cannot add required column {column.name}: existing rows have no value",
                    hint="add it as optional (required=False); make it required later if needed",
                )

    def _validate_drops(self, table: Table, schema: Schema, name: str) -> None:
        sources = {f.source_id for spec in table.metadata.partition_specs for f in spec.fields}
        sources |= {f.source_id for f in table.sort_order().fields}
        for column in self.drop_columns:
            field_id = _field(schema, column, name).field_id
            if field_id in schema.identifier_field_ids:
                raise InvalidInput(
                    f"cannot drop identifier column {column} of {name}",
                    hint="change the identifier fields first",
                )
            if field_id in sources:
                raise InvalidInput(
                    f"cannot drop {column} of {name}: partitioning or sort order uses it",
                    hint="change the partition spec / sort order first",
                )


class EvolveSchemaOperation(TableOperation):
    """Apply `SchemaChanges` in one schema commit (validated in the plan).

    Example:
        >>> changes = SchemaChanges.of(widen_types={"user_id": "long"})
        >>> EvolveSchemaOperation(changes).settings()["widen_types"]
        {'user_id': 'long'}
    """

    name: ClassVar[str] = "evolve_schema"
    permission: ClassVar[str] = "manage_schema"

    def __init__(self, changes: SchemaChanges) -> None:
        self.changes = changes

    def settings(self) -> dict[str, Any]:
        return self.changes.to_dict()

    def plan(self, table: LakehouseTable) -> OperationPlan:
        """Validate the changes and preview the new schema."""
        check_format_support(table, self.name)
        new_schema = self.changes.preview(table.table)
        current = table.table.schema()
        figures = {
            "schema_id_before": current.schema_id,
            "columns_added": len(self.changes.add_columns),
            "columns_dropped": len(self.changes.drop_columns),
            "columns_renamed": len(self.changes.rename_columns),
            "types_widened": len(self.changes.widen_types),
            "made_optional": len(self.changes.make_optional),
        }
        details = {
            "changes": self.changes.to_dict(),
            "new_schema": new_schema.model_dump(mode="json", by_alias=True),
        }
        return self._plan(table, figures, details)

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Commit the changes (PyIceberg asserts the schema id the changes were made on)."""
        from phlo_lakehouse.operations.commit import commit_transaction

        if table.table.schema().schema_id != plan.figures["schema_id_before"]:
            raise Conflict(f"the schema of {table} changed since the plan", hint="re-run")
        transaction = table.table.transaction()
        with transaction.update_schema() as update:
            self.changes.stage(update)
        try:
            commit_transaction(transaction, what=f"schema change of {table}")
        except Conflict as e:
            raise Conflict(f"the schema of {table} changed concurrently", hint="re-run") from e
        return OperationResult.applied(
            plan,
            snapshot_id_after=table.snapshot_id,
            figures={**plan.figures, "schema_id_after": table.table.schema().schema_id},
        )


def _exists(schema: Schema, column: str) -> bool:
    try:
        schema.find_field(column, case_sensitive=True)
    except ValueError:
        return False
    return True


def _field(schema: Schema, column: str, table: str) -> Any:
    try:
        return schema.find_field(column, case_sensitive=True)
    except ValueError as e:
        known = ", ".join(schema.column_names[:8])
        raise ColumnNotFound(
            f"table {table} has no column {column!r}",
            hint=f"columns are named by dotted path, case-sensitively (e.g. {known})",
        ) from e
