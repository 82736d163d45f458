"""Click parameter types for lakehouse values: durations, sizes, refs and table names.

They parse with the library's own parsers (`parse_duration`, `parse_size`,
`validate_ref_name`, `parse_table_identifier`), so a bad value is rejected while the command
line is read — before any catalog is contacted — with the library's message and hint, and the
CLI exits 2.

Example:
    >>> DURATION.convert("36h", None, None).total_seconds()
    129600.0
    >>> FILE_SIZE.convert("128MB", None, None)
    134217728
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.identifiers import TableSelector, parse_table_identifier, validate_ref_name
from phlo_lakehouse.units import FILE_SIZES, GROUP_SIZES, SizeRange, parse_duration, parse_size


class BadValue(click.BadParameter):
    """A rejected option or argument value, carrying the library error's hint."""

    def __init__(self, error: InvalidInput, ctx: click.Context | None, param: Any) -> None:
        message, self.hint = error.spelled_for("cli")
        super().__init__(message, ctx=ctx, param=param)

    def format_message(self) -> str:
        return self.message


def _name(param: click.Parameter | None, default: str) -> str:
    if param is None:
        return default
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    return opts[0] if opts else (param.human_readable_name or default)


class DurationParam(click.ParamType):
    """A duration such as ``36h``, ``5d``, ``2w`` or ISO-8601 ``P5D``; gives a timedelta."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value), name=_name(param, "duration"))
        except InvalidInput as error:
            raise BadValue(error, ctx, param) from error


class SizeParam(click.ParamType):
    """A size such as ``128MB``, ``512MiB`` or a number of bytes within ``within``; gives an
    int."""

    name = "size"

    def __init__(self, within: SizeRange) -> None:
        self.within = within

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return parse_size(str(value), name=_name(param, "size"), within=self.within)
        except InvalidInput as error:
            raise BadValue(error, ctx, param) from error


class RefParam(click.ParamType):
    """A branch or tag name such as ``main``, ``dev`` or ``etl/2026-11-25``."""

    name = "ref"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return validate_ref_name(str(value))
        except InvalidInput as error:
            raise BadValue(error, ctx, param) from error


class TableParam(click.ParamType):
    """A table name ``namespace.table``, or with ``selector=True`` a pattern like ``raw.*``."""

    name = "table"

    def __init__(self, *, selector: bool = False) -> None:
        self.selector = selector

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            if self.selector:
                TableSelector.parse(str(value))
            else:
                parse_table_identifier(str(value))
        except InvalidInput as error:
            raise BadValue(error, ctx, param) from error
        return str(value)


class PairParam(click.ParamType):
    """``left<sep>right`` such as ``country:string`` or ``kind=event_kind``; gives a tuple.

    Example:
        >>> PairParam(":", "NAME:TYPE").convert("price:decimal(10,2)", None, None)
        ('price', 'decimal(10,2)')
    """

    def __init__(self, separator: str, metavar: str) -> None:
        self.separator = separator
        self.name = metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        left, sep, right = str(value).partition(self.separator)
        if not sep or not left.strip() or not right.strip():
            error = InvalidInput(
                f"{_name(param, 'value')} {value!r} is not {self.name}",
                hint=f"write {self.name}, e.g. {_PAIR_EXAMPLES.get(self.separator, self.name)}",
            )
            raise BadValue(error, ctx, param)
        return left.strip(), right.strip()

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.name


_PAIR_EXAMPLES = {":": "country:string", "=": "kind=event_kind"}


#: ``--prefix-mismatch``, as vacuum and gc take it.
PREFIX_MISMATCH_OPTION = click.option(
    "--prefix-mismatch",
    type=click.Choice(["error", "ignore", "delete"]),
    default="error",
    show_default=True,
    help="A listed file matching a referenced one by path only: stop, keep it or delete it.",
)

DURATION = DurationParam()
#: Target sizes of data, delete and manifest files.
FILE_SIZE = SizeParam(FILE_SIZES)
#: Most input bytes of a file group.
GROUP_SIZE = SizeParam(GROUP_SIZES)
REF = RefParam()
