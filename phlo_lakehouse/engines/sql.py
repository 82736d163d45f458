r"""Spark SQL text: quoted identifiers, literals, maps, and our row filters as SQL predicates.

Example:
    >>> quote_identifier("raw.events")
    '`raw.events`'
    >>> sql_string("it's")
    "'it\\'s'"
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    pass

#: The hint of every error about something Spark SQL cannot express.
#: The engine choice every "Spark cannot express this" hint ends with.
LOCAL_ENGINE = Arg("engine", "local")
LOCAL_HINT = Phrase("run it on the local engine ({})", LOCAL_ENGINE)


def or_local_engine(template: str, *args: Arg) -> Phrase:
    """A hint: ``template`` (its ``{}`` slots filled by ``args``), or the local engine."""
    return Phrase(template + ", or run it on the local engine ({})", *args, LOCAL_ENGINE)


def quote_identifier(name: str) -> str:
    """A Spark SQL identifier in backticks.

    Example:
        >>> quote_identifier("my`table")
        '`my``table`'
    """
    return "`" + name.replace("`", "``") + "`"


def quote_column(name: str) -> str:
    """A column reference: each part of a struct field path quoted (``loc.lat`` is the field
    ``lat`` of the struct ``loc``, as in Iceberg's column names).

    Example:
        >>> quote_column("loc.lat")
        '`loc`.`lat`'
    """
    return ".".join(quote_identifier(part) for part in name.split("."))


def sql_string(value: str) -> str:
    r"""A Spark SQL string literal (backslash escapes, as Spark's parser reads them).

    Example:
        >>> print(sql_string("it's a \\ path"))
        'it\'s a \\ path'
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_timestamp(moment: datetime) -> str:
    """A Spark ``TIMESTAMP`` literal in UTC (independent of the session time zone).

    Example:
        >>> sql_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        "TIMESTAMP '2026-01-02 03:04:05.000000Z'"
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"TIMESTAMP '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}Z'"


def sql_map(entries: Mapping[str, str]) -> str:
    """A ``map('k', 'v', ...)`` literal of strings.

    Example:
        >>> sql_map({"rewrite-all": "true"})
        "map('rewrite-all', 'true')"
    """
    return "map(" + ", ".join(f"{sql_string(k)}, {sql_string(v)}" for k, v in entries.items()) + ")"


def option_text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def spark_filter(expression: Any) -> str:
    """A PyIceberg boolean expression (as `pyiceberg.expressions.parser.parse` returns it) in
    Spark SQL, for ``rewrite_data_files(where => ...)``.

    Raises:
        InvalidInput: an expression kind Spark's ``where`` cannot take.

    Example:
        >>> from pyiceberg.expressions.parser import parse
        >>> spark_filter(parse("kind in ('a', 'b') and not amount < 3"))
        "(`kind` IN ('a', 'b') AND NOT (`amount` < 3))"
    """
    from pyiceberg.expressions import (
        AlwaysFalse,
        AlwaysTrue,
        And,
        BoundPredicate,
        Not,
        Or,
        UnboundPredicate,
    )

    if isinstance(expression, AlwaysTrue):
        return "true"
    if isinstance(expression, AlwaysFalse):
        return "false"
    if isinstance(expression, And):
        return f"({spark_filter(expression.left)} AND {spark_filter(expression.right)})"
    if isinstance(expression, Or):
        return f"({spark_filter(expression.left)} OR {spark_filter(expression.right)})"
    if isinstance(expression, Not):
        return f"NOT ({spark_filter(expression.child)})"
    if isinstance(expression, UnboundPredicate | BoundPredicate):
        return _predicate(expression)
    raise InvalidInput(
        f"partition_filter part {expression!r} has no Spark SQL form", hint=LOCAL_HINT
    )


_COMPARISONS = {
    "EqualTo": "=",
    "NotEqualTo": "!=",
    "LessThan": "<",
    "LessThanOrEqual": "<=",
    "GreaterThan": ">",
    "GreaterThanOrEqual": ">=",
}


def _predicate(predicate: Any) -> str:
    kind = type(predicate).__name__
    column = quote_column(predicate.term.name)
    if kind in _COMPARISONS:
        return f"{column} {_COMPARISONS[kind]} {_literal(predicate.literal.value)}"
    if kind in ("In", "NotIn"):
        values = ", ".join(sorted(_literal(lit.value) for lit in predicate.literals))
        return f"{column} {'IN' if kind == 'In' else 'NOT IN'} ({values})"
    simple = {
        "IsNull": f"{column} IS NULL",
        "NotNull": f"{column} IS NOT NULL",
        "IsNaN": f"isnan({column})",
        "NotNaN": f"NOT isnan({column})",
    }
    if kind in simple:
        return simple[kind]
    if kind in ("StartsWith", "NotStartsWith"):
        test = f"startswith({column}, {_literal(predicate.literal.value)})"
        return test if kind == "StartsWith" else f"NOT {test}"
    raise InvalidInput(f"partition_filter predicate {kind} has no Spark SQL form", hint=LOCAL_HINT)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return sql_string(value)
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        return str(value)
    raise InvalidInput(f"partition_filter literal {value!r} has no Spark SQL form", hint=LOCAL_HINT)
