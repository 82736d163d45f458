"""Validating what an optimize is asked to do before anything is read or written: sort column
specs, columns that must exist, z-order column types, and the partition filter (parsed, then
evaluated against partition values and column metrics).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

SORT_SPEC = re.compile(
    r"^\s*(?P<col>[A-Za-z_][\w.]*)(?:\s+(?P<dir>asc|desc))?(?:\s+nulls\s+(?P<nulls>first|last))?\s*$",
    re.IGNORECASE,
)
ZORDER_TYPES = (
    "int",
    "long",
    "float",
    "double",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "string",
    "boolean",
    "timestamp_ns",
    "timestamptz_ns",
)


def parse_sort_spec(spec: str) -> tuple[str, str, str]:
    match = SORT_SPEC.match(spec)
    if not match:
        raise InvalidInput(
            f"sort column {spec!r} is not valid",
            hint="write 'col', 'col desc' or 'col asc nulls last'",
        )
    direction = "descending" if (match.group("dir") or "").lower() == "desc" else "ascending"
    nulls = match.group("nulls")
    placement = (
        ("at_start" if direction == "ascending" else "at_end")
        if nulls is None
        else ("at_start" if nulls.lower() == "first" else "at_end")
    )
    return match.group("col"), direction, placement


def _optimize(name: str, value: Any = None) -> Arg:
    """An optimize setting, as a hint names it."""
    return Arg(name, value, group="optimize")


def check_strategy(
    strategy: str, strategies: tuple[str, ...], *, sort_by: Any, zorder_by: Any
) -> None:
    """Raises `InvalidInput` unless ``strategy`` is known and its columns go with it."""
    if strategy not in strategies:
        raise InvalidInput(
            f"strategy {strategy!r} is not supported", hint="use " + ", ".join(strategies)
        )
    if strategy == "zorder" and not zorder_by:
        raise InvalidInput(
            "zorder needs columns", hint=Phrase("pass {}", _optimize("zorder_by", ["a", "b"]))
        )
    for columns, given, needed in (
        ("zorder_by", zorder_by, "zorder"),
        ("sort_by", sort_by, "sort"),
    ):
        if given and strategy != needed:
            wanted = _optimize("strategy", needed)
            raise InvalidInput(
                Phrase("{} needs {}", _optimize(columns), wanted), hint=Phrase("set {}", wanted)
            )


def require_column(schema: Schema, column: str, argument: Arg):
    try:
        return schema.find_field(column)
    except ValueError as e:
        names = ", ".join(f.name for f in schema.fields)
        raise InvalidInput(
            Phrase("{} column " + f"{column!r} is not in the table", argument),
            hint=f"columns: {names}",
        ) from e


def require_orderable_column(schema: Schema, column: str, argument: Arg):
    """The field ``column`` names, when rows can be ordered by it: a primitive column, top-level
    or nested in structs (``loc.lat``); list and map elements and whole structs are refused."""
    from pyiceberg.types import ListType, MapType

    field = require_column(schema, column, argument)
    parts = column.split(".")
    for depth in range(1, len(parts)):
        prefix = ".".join(parts[:depth])
        try:
            outer = schema.find_field(prefix).field_type
        except ValueError:
            continue  # a top-level name containing a dot
        if isinstance(outer, ListType | MapType):
            kind = "list" if isinstance(outer, ListType) else "map"
            raise InvalidInput(
                Phrase(
                    "{} column "
                    + f"{column!r} is inside the {kind} {prefix!r}; rows cannot be ordered by a "
                    "list or map element",
                    argument,
                ),
                hint="order by a top-level column or a field of a struct, e.g. loc.lat",
            )
    if not field.field_type.is_primitive:
        raise InvalidInput(
            Phrase(
                "{} column " + f"{column!r} is a {field.field_type}, not a single value", argument
            ),
            hint="order by one of its fields (e.g. loc.lat), not the whole struct/list/map",
        )
    return field


def parse_filter(text: str):
    from pyiceberg.expressions.parser import parse

    try:
        return parse(text)
    except Exception as e:
        raise InvalidInput(
            f"partition_filter {text!r} is not a valid expression",
            hint="e.g. \"event_time >= '2026-01-02T00:00:00+00:00' and kind = 'click'\"",
        ) from e


def file_filter(table: Table, expr: Any) -> Callable[[DataFile], bool]:
    from pyiceberg.exceptions import ValidationError
    from pyiceberg.expressions.visitors import expression_evaluator, inclusive_projection
    from pyiceberg.schema import Schema

    from phlo_lakehouse._upstream.pyiceberg import inclusive_metrics_evaluator

    schema = table.metadata.schema()
    try:
        may_match = inclusive_metrics_evaluator(schema, expr, True)
        partitions = {
            spec_id: expression_evaluator(
                Schema(*spec.partition_type(schema).fields),
                inclusive_projection(schema, spec, True)(expr),
                True,
            )
            for spec_id, spec in table.metadata.specs().items()
        }
    except (ValidationError, ValueError) as e:
        raise InvalidInput(
            f"partition_filter cannot be applied: {str(e).splitlines()[0]}",
            hint="use column names of the table's current schema",
        ) from e
    return lambda f: partitions[f.spec_id](f.partition) and may_match(f)


def resolve_sort_keys(
    table: Table, schema: Schema, strategy: str, sort_keys: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """The sort keys of a ``sort`` compaction: ``sort_keys`` (checked against ``schema``), else
    the table's sort order (identity fields only); none for other strategies."""
    if strategy != "sort":
        return []
    if sort_keys:
        for column, _, _ in sort_keys:
            require_orderable_column(schema, column, _optimize("sort_by"))
        return sort_keys
    order = table.sort_order()
    if order.is_unsorted:
        raise InvalidInput(
            "strategy 'sort' needs sort_by columns or a table sort order",
            hint=Phrase("pass {} or set the table's sort order", _optimize("sort_by", ["col"])),
        )
    keys = []
    for sort_field in order.fields:
        if str(sort_field.transform) != "identity":
            raise InvalidInput(
                f"table sort order uses transform {sort_field.transform}",
                hint="pass sort_by columns (only identity sort fields are supported)",
            )
        name = schema.find_column_name(sort_field.source_id)
        if name is None:
            raise InvalidInput(
                f"table sort order sorts by field id {sort_field.source_id}, not in the schema",
                hint="pass sort_by columns, or fix the table's sort order",
            )
        keys.append(
            (
                name,
                "ascending" if sort_field.direction.value == "asc" else "descending",
                "at_start" if sort_field.null_order.value == "nulls-first" else "at_end",
            )
        )
    return keys


def check_zorder_columns(schema: Schema, zorder_by: Sequence[str]) -> None:
    """Refuse z-order columns of types z-ordering cannot interleave."""
    for column in zorder_by:
        field = require_orderable_column(schema, column, _optimize("zorder_by"))
        if str(field.field_type) not in ZORDER_TYPES and not str(field.field_type).startswith(
            "timestamp"
        ):
            raise InvalidInput(
                f"z-order on column {column!r} of type {field.field_type} is not supported",
                hint="z-order numeric, date/time, timestamp, string or boolean columns",
            )
