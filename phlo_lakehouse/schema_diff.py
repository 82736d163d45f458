"""Comparing schemas by field id: diffs between versions, and compatibility like a schema
registry's (Confluent's modes), applied to Iceberg's field ids — so a rename keeps the field (as
an Avro alias would), and the type promotions are Iceberg's (``int → long``, ``float → double``,
decimal precision):

- ``BACKWARD``: the new schema reads data written with the previous one. Adding a required
  field breaks (old rows have no value), removing a field is fine, widening is fine,
  narrowing or changing a type breaks, making a field required breaks.
- ``FORWARD``: readers on the previous schema read data written with the new one. Removing a
  required field breaks, adding is fine, widening breaks, making a field optional breaks.
- ``FULL``: both. ``NONE``: no check.
- ``*_TRANSITIVE``: against every earlier schema in ``table.metadata.schemas``, not only the
  latest.

Example:
    >>> normalize_mode("full_transitive")
    'FULL_TRANSITIVE'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations.schema_ops import is_widening

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType, NestedField


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
