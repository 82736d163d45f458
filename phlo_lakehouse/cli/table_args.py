"""`with_table`: the ``TABLE`` argument and ``--ref`` option every table command shares; the
command gets the loaded table (or every table a selector such as ``raw.*`` matches), so unknown
tables and refs fail before anything runs.

Example:
    >>> import click
    >>> from phlo_lakehouse.cli.command import LakehouseCommand
    >>> @click.command(cls=LakehouseCommand)
    ... @with_table()
    ... def show(table):
    ...     click.echo(str(table))
    >>> sorted(p.name for p in show.params)
    ['debug', 'json', 'output_format', 'ref', 'table']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from phlo_lakehouse.cli.command import current_state
from phlo_lakehouse.cli.params import REF, TableParam
from phlo_lakehouse.errors import TableNotFound


def with_table(*, selector: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add a ``TABLE`` argument and ``--ref``; the callback gets loaded tables.

    Args:
        selector: accept patterns such as ``raw.*`` and pass ``tables`` (a list of every
            matching `LakehouseTable`, sorted) instead of ``table`` (one `LakehouseTable`).

    Raises (inside the command, rendered as errors):
        InvalidIdentifier / InvalidRefName: malformed TABLE or ``--ref``.
        TableNotFound / NamespaceNotFound / RefNotFound: nothing by that name on that ref.

    Example:
        >>> from phlo_lakehouse.cli.command import LakehouseCommand
        >>> @click.command(cls=LakehouseCommand)
        ... @with_table(selector=True)
        ... def count(tables):
        ...     click.echo(len(tables))
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, table: str, ref: str | None, **kwargs: Any) -> Any:
            lakehouse = current_state().lakehouse
            if not selector:
                return fn(*args, table=lakehouse.get_table(table, ref), **kwargs)
            matched = lakehouse.resolve_tables([table], ref)
            if not matched:
                raise TableNotFound(
                    f"no table matches {table!r}",
                    hint="list tables with `phlo-lakehouse tables list`",
                )
            return fn(*args, tables=[lakehouse.get_table(t, ref) for t in matched], **kwargs)

        wrapper = click.option(
            "--ref",
            type=REF,
            default=None,
            help="Branch or tag (a Nessie reference on Nessie catalogs). Default: main.",
        )(wrapper)
        return click.argument("table", type=TableParam(selector=selector))(wrapper)

    return decorator
