"""`SchemaManager`: evolve a table's schema (one validated commit through ``lakehouse.run``),
diff schema versions by field id, check compatibility like a schema registry, and export.

**Compatibility** follows a schema registry's rules for Avro-like schemas (Confluent's modes),
applied to Iceberg's field ids — so a rename keeps the field (as an Avro alias would), and the
type promotions are Iceberg's (``int → long``, ``float → double``, decimal precision):

- ``BACKWARD``: the new schema reads data written with the previous one. Adding a required
  field breaks (old rows have no value), removing a field is fine, widening is fine,
  narrowing or changing a type breaks, making a field required breaks.
- ``FORWARD``: readers on the previous schema read data written with the new one. Removing a
  required field breaks, adding is fine, widening breaks, making a field optional breaks.
- ``FULL``: both. ``NONE``: no check.
- ``*_TRANSITIVE``: against every earlier schema in ``table.metadata.schemas``, not only the
  latest.

Example:
    >>> schemas = SchemaManager(lakehouse)                                    # doctest: +SKIP
    >>> schemas.validate_evolution("raw.events", add_columns={"country": "string"},
    ...                            mode="FULL").compatible                   # doctest: +SKIP
    True
    >>> schemas.evolve_schema("raw.events", widen_types={"user_id": "long"})  # doctest: +SKIP
    >>> print(schemas.export_schema("raw.events", "sql", dialect="trino"))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput, NotFound
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.operations.schema_ops import EvolveSchemaOperation, SchemaChanges, is_widening

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType, NestedField

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.operations.base import OperationResult

MODES = (
    "BACKWARD",
    "FORWARD",
    "FULL",
    "BACKWARD_TRANSITIVE",
    "FORWARD_TRANSITIVE",
    "FULL_TRANSITIVE",
    "NONE",
)


@dataclass(frozen=True)
class FieldChange:
    """One difference between two schemas for one field id.

    ``kind`` is added, removed, renamed, type_changed, nullability or doc.
    """

    field_id: int
    kind: str
    path: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class SchemaDiff:
    """Field-by-field differences between two schemas (matched by field id)."""

    from_schema_id: int | None
    to_schema_id: int | None
    changes: tuple[FieldChange, ...]

    def of_kind(self, kind: str) -> list[FieldChange]:
        """The changes of one kind."""
        return [c for c in self.changes if c.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "from_schema_id": self.from_schema_id,
            "to_schema_id": self.to_schema_id,
            "changes": [c.__dict__ for c in self.changes],
        }


@dataclass(frozen=True)
class BreakingChange:
    """A change that breaks compatibility, against which schema, in which direction, and why."""

    field_id: int
    path: str
    direction: str
    against_schema_id: int | None
    reason: str


@dataclass(frozen=True)
class CompatibilityReport:
    """The verdict of a compatibility check."""

    mode: str
    checked_against: tuple[int | None, ...]
    breaking: tuple[BreakingChange, ...]

    @property
    def compatible(self) -> bool:
        """True when nothing breaks."""
        return not self.breaking

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "mode": self.mode,
            "compatible": self.compatible,
            "checked_against": list(self.checked_against),
            "breaking": [b.__dict__ for b in self.breaking],
        }


def diff_schemas(old: Schema, new: Schema) -> SchemaDiff:
    """What changed from ``old`` to ``new``, by field id (nested fields included).

    Example:
        >>> from pyiceberg.schema import Schema
        >>> from pyiceberg.types import NestedField, LongType
        >>> a = Schema(NestedField(1, "id", LongType()))
        >>> b = Schema(NestedField(1, "key", LongType()))
        >>> [(c.kind, c.before, c.after) for c in diff_schemas(a, b).changes]
        [('renamed', 'id', 'key')]
    """
    before, after = dict(_walk(old)), dict(_walk(new))
    changes: list[FieldChange] = []
    for fid in sorted(before.keys() | after.keys()):
        if fid not in after:
            changes.append(FieldChange(fid, "removed", before[fid][0], before[fid][0], None))
            continue
        if fid not in before:
            changes.append(FieldChange(fid, "added", after[fid][0], None, after[fid][0]))
            continue
        (old_path, old_field), (new_path, new_field) = before[fid], after[fid]
        pairs = [
            ("renamed", old_path, new_path),
            ("type_changed", _type_name(old_field), _type_name(new_field)),
            ("nullability", _nullability(old_field), _nullability(new_field)),
            ("doc", old_field.doc, new_field.doc),
        ]
        for kind, was, now in pairs:
            if was != now:
                changes.append(FieldChange(fid, kind, new_path, was, now))
    return SchemaDiff(old.schema_id, new.schema_id, tuple(changes))


def check_compatibility(
    new: Schema, history: Sequence[Schema], mode: str = "BACKWARD"
) -> CompatibilityReport:
    """Check ``new`` against ``history`` (oldest first) under ``mode``.

    Raises:
        InvalidInput: an unknown mode.

    Example:
        >>> check_compatibility(b, [a], "FULL").compatible                  # doctest: +SKIP
        True
    """
    mode = normalize_mode(mode)
    if mode == "NONE" or not history:
        return CompatibilityReport(mode, (), ())
    against = list(history) if mode.endswith("_TRANSITIVE") else [history[-1]]
    base = mode.removesuffix("_TRANSITIVE")
    breaking: list[BreakingChange] = []
    for old in reversed(against):
        if base in ("BACKWARD", "FULL"):
            breaking += _read_issues(new, old, "backward", old.schema_id)
        if base in ("FORWARD", "FULL"):
            breaking += _read_issues(old, new, "forward", old.schema_id)
    return CompatibilityReport(mode, tuple(s.schema_id for s in against), tuple(breaking))


def normalize_mode(mode: str) -> str:
    """The canonical mode name ("backward" → "BACKWARD").

    Raises:
        InvalidInput: not a compatibility mode.
    """
    canonical = str(mode).strip().upper().replace("-", "_")
    if canonical not in MODES:
        raise InvalidInput(
            f"{mode!r} is not a compatibility mode", hint=f"use one of {', '.join(MODES)}"
        )
    return canonical


class SchemaManager:
    """Schema evolution, history, compatibility and export for one lakehouse.

    Args:
        lakehouse: the `IcebergLakehouse` whose tables are managed.
        run: the runner for operations (default ``lakehouse.run``).

    Example:
        >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
        >>> manager = SchemaManager(IcebergLakehouse(CatalogSettings.embedded("/tmp/doc")))
        >>> manager.diff_schemas("raw.events").changes                      # doctest: +SKIP
    """

    def __init__(
        self, lakehouse: IcebergLakehouse, *, run: Callable[..., OperationResult] | None = None
    ) -> None:
        self.lakehouse = lakehouse
        self._run = run or lakehouse.run

    def evolve_schema(
        self,
        table: str | TableIdentifier,
        *,
        add_columns: Any = None,
        drop_columns: Sequence[str] = (),
        rename_columns: dict[str, str] | None = None,
        widen_types: dict[str, Any] | None = None,
        make_optional: Sequence[str] = (),
        ref: str | None = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Apply the changes in one validated schema commit (see `SchemaChanges.of`).

        Raises:
            ColumnNotFound, InvalidInput: before any commit.

        Example:
            >>> manager.evolve_schema("raw.events", add_columns={"country": "string"},
            ...                       rename_columns={"kind": "event_kind"})  # doctest: +SKIP
        """
        changes = SchemaChanges.of(
            add_columns, drop_columns, rename_columns, widen_types, make_optional
        )
        return self._run(EvolveSchemaOperation(changes), table, ref, dry_run=dry_run)

    def schemas(self, table: str | TableIdentifier, ref: str | None = None) -> list[Schema]:
        """Every schema version of the table, oldest first."""
        metadata = self.lakehouse.get_table(table, ref).table.metadata
        return sorted(metadata.schemas, key=lambda s: s.schema_id)

    def diff_schemas(
        self,
        table: str | TableIdentifier,
        from_schema_id: int | None = None,
        to_schema_id: int | None = None,
        *,
        ref: str | None = None,
    ) -> SchemaDiff:
        """Differences between two schema versions (default: the previous and the current).

        Raises:
            NotFound: an unknown schema id.
        """
        history = self.schemas(table, ref)
        current = self.lakehouse.get_table(table, ref).table.schema()
        to_schema = _by_id(history, to_schema_id, table) if to_schema_id is not None else current
        if from_schema_id is not None:
            from_schema = _by_id(history, from_schema_id, table)
        else:
            older = [s for s in history if s.schema_id < to_schema.schema_id]
            from_schema = older[-1] if older else to_schema
        return diff_schemas(from_schema, to_schema)

    def validate_evolution(
        self,
        table: str | TableIdentifier,
        new_schema: Schema | None = None,
        *,
        mode: str = "BACKWARD",
        ref: str | None = None,
        **changes: Any,
    ) -> CompatibilityReport:
        """Check a new schema — given, or what ``changes`` (as for `evolve_schema`) would
        produce — against the table's schema history under ``mode``. Commits nothing.

        Example:
            >>> manager.validate_evolution("raw.events", drop_columns=["kind"],
            ...                            mode="FORWARD").breaking[0].reason  # doctest: +SKIP
        """
        mode = normalize_mode(mode)
        handle = self.lakehouse.get_table(table, ref)
        if new_schema is None:
            new_schema = SchemaChanges.of(**changes).preview(handle.table)
        elif changes:
            raise InvalidInput(
                "pass a new schema or changes, not both", hint="validate one candidate at a time"
            )
        history = sorted(handle.table.metadata.schemas, key=lambda s: s.schema_id)
        return check_compatibility(new_schema, history, mode)

    def export_schema(
        self,
        table: str | TableIdentifier,
        format: str = "markdown",
        *,
        dialect: str = "spark",
        table_name: str | None = None,
        ref: str | None = None,
    ) -> str:
        """The table's schema as markdown, sql (Spark or Trino DDL), python, json or arrow.

        Raises:
            InvalidInput: an unknown format or dialect, or a type the dialect cannot express.
        """
        from phlo_lakehouse.schema_export import export_table_schema

        handle = self.lakehouse.get_table(table, ref)
        default_catalog = self.lakehouse.settings.name if dialect == "spark" else "iceberg"
        name = table_name or f"{default_catalog}.{handle.identifier}"
        return export_table_schema(handle.table, format, dialect=dialect, table_name=name)


def _walk(schema: Schema) -> Iterator[tuple[int, tuple[str, NestedField]]]:
    """(field id, (dotted path, field)) for every field, nested ones included."""

    def visit(fields: Sequence[NestedField], prefix: str) -> Iterator[tuple[int, Any]]:
        for f in fields:
            path = f"{prefix}{f.name}"
            yield f.field_id, (path, f)
            yield from visit(_children(f.field_type), f"{path}.")

    yield from visit(schema.fields, "")


def _children(kind: IcebergType) -> list[NestedField]:
    from pyiceberg.types import ListType, MapType, StructType

    if isinstance(kind, StructType):
        return list(kind.fields)
    if isinstance(kind, ListType):
        return [kind.element_field]
    if isinstance(kind, MapType):
        return [kind.key_field, kind.value_field]
    return []


def _read_issues(
    reader: Schema, writer: Schema, direction: str, against: int | None
) -> list[BreakingChange]:
    """Why ``reader`` cannot read data written with ``writer`` (empty when it can); each issue
    names ``against``, the historical schema of the pair."""
    written = dict(_walk(writer))
    issues: list[BreakingChange] = []
    missing: set[str] = set()
    for fid, (path, field) in _walk(reader):
        if any(path.startswith(f"{p}.") for p in missing):
            continue  # inside a field that is missing as a whole

        def add(reason: str, fid: int = fid, path: str = path) -> None:
            issues.append(BreakingChange(fid, path, direction, against, reason))

        if fid not in written:
            missing.add(path)
            if field.required and field.initial_default is None:
                add(_missing(direction, path))
            continue
        old, kind = written[fid][1].field_type, field.field_type
        if kind.is_primitive or old.is_primitive:
            if not (kind.is_primitive and old.is_primitive and is_widening(old, kind)):
                add(f"{path} is written as {old}, read as {kind}: {_rule(direction)}")
        elif type(kind) is not type(old):
            add(f"{path} changed from {_type_name(written[fid][1])} to {_type_name(field)}")
        if field.required and not written[fid][1].required:
            data = "old" if direction == "backward" else "new"
            add(
                f"{path} is required when read but optional when written: {data} data may "
                "hold nulls"
            )
    return issues


def _missing(direction: str, path: str) -> str:
    if direction == "backward":
        return f"required field {path} was added without a default: old data has no value for it"
    return f"required field {path} was removed: readers of the old schema need it"


def _rule(direction: str) -> str:
    if direction == "backward":
        return "the new type must widen the old one (int→long, float→double, decimal precision)"
    return "readers of the old schema cannot read the new type (it is not narrower)"


def _type_name(field: NestedField) -> str:
    kind = field.field_type
    return str(kind) if kind.is_primitive else type(kind).__name__.removesuffix("Type").lower()


def _nullability(field: NestedField) -> str:
    return "required" if field.required else "optional"


def _by_id(history: Sequence[Schema], schema_id: int, table: Any) -> Schema:
    for schema in history:
        if schema.schema_id == schema_id:
            return schema
    raise NotFound(
        f"table {table} has no schema {schema_id}",
        hint=f"schema ids: {', '.join(str(s.schema_id) for s in history)}",
    )
