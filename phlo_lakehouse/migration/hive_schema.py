"""Hive column types (as the Hive metastore and AWS Glue store them) to Iceberg types, and Hive
partition values (strings in the metastore) to Iceberg partition values.

Types Iceberg cannot hold (``uniontype``, ``interval_*``, ``void``, decimals wider than 38
digits) raise `InvalidInput` naming the column, so a migration fails before anything is created.

Example:
    >>> str(hive_type_to_iceberg("map<string,array<int>>", column="tags"))
    'map<string, list<int>>'
    >>> partition_value("2026-01-02", hive_type_to_iceberg("date", column="dt"))
    20455
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType

#: The value Hive writes for a NULL partition value.
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\d+|[<>(),:])")
_SCHEMA_HINT = (
    "rewrite the column as a type Iceberg holds (no union, interval or void; decimals up to 38 "
    "digits)"
)


class _Parser:
    """A recursive-descent parser over one Hive type string."""

    def __init__(self, text: str, column: str, next_id: Callable[[], int]) -> None:
        self.text, self.column, self.next_id = text, column, next_id
        self.tokens = _TOKEN.findall(text)
        if "".join(self.tokens).replace(" ", "") != re.sub(r"\s+", "", text):
            self._fail(f"type {text!r} is not a Hive type")
        self.pos = 0

    def _fail(self, message: str) -> None:
        raise InvalidInput(f"column {self.column!r}: {message}", hint=_SCHEMA_HINT)

    def _take(self, expected: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            self._fail(f"type {self.text!r} ends too early")
        token = self.tokens[self.pos]
        if expected is not None and token != expected:
            self._fail(f"type {self.text!r}: expected {expected!r}, found {token!r}")
        self.pos += 1
        return token

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> IcebergType:
        result = self._type()
        if self._peek() is not None:
            self._fail(f"type {self.text!r} has trailing text")
        return result

    def _type(self) -> IcebergType:
        from pyiceberg import types as t

        name = self._take().lower()
        simple = {
            "boolean": t.BooleanType,
            "tinyint": t.IntegerType,
            "smallint": t.IntegerType,
            "int": t.IntegerType,
            "integer": t.IntegerType,
            "bigint": t.LongType,
            "float": t.FloatType,
            "double": t.DoubleType,
            "string": t.StringType,
            "binary": t.BinaryType,
            "date": t.DateType,
            "timestamp": t.TimestampType,
        }
        if name in simple:
            return simple[name]()
        if name in ("varchar", "char"):
            self._take("(")
            self._take()
            self._take(")")
            return t.StringType()
        if name == "decimal":
            return self._decimal()
        if name == "array":
            self._take("<")
            element_id, element = self.next_id(), self._type()
            self._take(">")
            return t.ListType(element_id, element, element_required=False)
        if name == "map":
            self._take("<")
            key_id, key = self.next_id(), self._type()
            self._take(",")
            value_id, value = self.next_id(), self._type()
            self._take(">")
            return t.MapType(key_id, key, value_id, value, value_required=False)
        if name == "struct":
            return self._struct()
        self._fail(f"type {name!r} has no Iceberg equivalent")
        raise AssertionError  # unreachable: _fail raises

    def _decimal(self) -> IcebergType:
        from pyiceberg.types import DecimalType

        precision, scale = 10, 0  # Hive's default for a bare "decimal"
        if self._peek() == "(":
            self._take("(")
            precision = int(self._take())
            if self._peek() == ",":
                self._take(",")
                scale = int(self._take())
            self._take(")")
        if not 0 < precision <= 38 or not 0 <= scale <= precision:
            self._fail(f"decimal({precision},{scale}) does not fit Iceberg's decimal(38) limit")
        return DecimalType(precision, scale)

    def _struct(self) -> IcebergType:
        from pyiceberg.types import NestedField, StructType

        self._take("<")
        fields = []
        while True:
            name = self._take()
            self._take(":")
            field_id = self.next_id()
            fields.append(NestedField(field_id, name, self._type(), required=False))
            if self._peek() == ",":
                self._take(",")
                continue
            self._take(">")
            return StructType(*fields)


def hive_type_to_iceberg(
    hive_type: str, *, column: str, next_id: Callable[[], int] | None = None
) -> IcebergType:
    """The Iceberg type of a Hive column type string.

    Raises:
        InvalidInput: the type has no Iceberg equivalent or cannot be parsed.

    Example:
        >>> str(hive_type_to_iceberg("decimal(12,2)", column="amount"))
        'decimal(12, 2)'
    """
    counter = iter(range(10_000, 1_000_000))
    return _Parser(hive_type, column, next_id or (lambda: next(counter))).parse()


def hive_schema(
    columns: Sequence[tuple[str, str]], partition_keys: Sequence[tuple[str, str]] = ()
) -> Schema:
    """The Iceberg schema of a Hive table: data columns, then partition columns (all optional,
    as in Hive), with ids assigned in order.

    Raises:
        InvalidInput: a type Iceberg cannot hold, or a column name used twice.

    Example:
        >>> [f.name for f in hive_schema([("id", "bigint")], [("dt", "string")]).fields]
        ['id', 'dt']
    """
    from pyiceberg.schema import Schema, assign_fresh_schema_ids
    from pyiceberg.types import NestedField

    seen: set[str] = set()
    fields = []
    for position, (name, hive_type) in enumerate([*columns, *partition_keys], start=1):
        if name.lower() in seen:
            raise InvalidInput(
                f"column {name!r} appears twice (Hive names are case-insensitive)",
                hint="rename one of the two columns",
            )
        seen.add(name.lower())
        iceberg_type = hive_type_to_iceberg(hive_type, column=name)
        fields.append(NestedField(position, name, iceberg_type, required=False))
    return assign_fresh_schema_ids(Schema(*fields))


def partition_value(raw: str | None, iceberg_type: IcebergType) -> Any:
    """A Hive partition value (a string in the metastore) as Iceberg's partition value.

    Dates become days since 1970-01-01 and timestamps microseconds, as Iceberg stores them;
    ``__HIVE_DEFAULT_PARTITION__`` is None.

    Raises:
        InvalidInput: the value does not parse as the column's type.

    Example:
        >>> from pyiceberg.types import IntegerType
        >>> partition_value("7", IntegerType()), partition_value(HIVE_NULL_PARTITION, IntegerType())
        (7, None)
    """
    from pyiceberg import types as t

    if raw is None or raw == HIVE_NULL_PARTITION:
        return None
    try:
        if isinstance(iceberg_type, t.IntegerType | t.LongType):
            return int(raw)
        if isinstance(iceberg_type, t.FloatType | t.DoubleType):
            return float(raw)
        if isinstance(iceberg_type, t.BooleanType):
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if isinstance(iceberg_type, t.DecimalType):
            return Decimal(raw)
        if isinstance(iceberg_type, t.DateType):
            return (date.fromisoformat(raw) - date(1970, 1, 1)).days
        if isinstance(iceberg_type, t.TimestampType):
            delta = datetime.fromisoformat(raw) - datetime(1970, 1, 1)
            return delta // _MICROSECOND
        if isinstance(iceberg_type, t.StringType):
            return raw
    except ValueError as e:
        raise InvalidInput(
            f"partition value {raw!r} is not a valid {iceberg_type}",
            hint="fix the partition in the metastore (ALTER TABLE … PARTITION … RENAME TO …)",
        ) from e
    raise InvalidInput(
        f"partition columns of type {iceberg_type} are not supported",
        hint="partition by string, integer, decimal, boolean, date or timestamp columns",
    )


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1) - datetime(1970, 1, 1)
