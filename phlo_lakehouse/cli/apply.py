"""The rule for commands that change anything, and the runner that applies operations.

**The rule.** A command that changes tables or refs (optimize, expire, vacuum, manifests
rewrite, demo seed, snapshot, schema and ref changes) takes ``--dry-run`` and ``--yes``/``-y``:

1. ``--dry-run``: show the plan, change nothing, exit 0.
2. ``--yes``: apply without asking.
3. neither, interactive (stdin is a terminal, table output, no ``phlo --non-interactive``):
   show the plan and ask; "y" applies, anything else changes nothing and exits 1.
4. neither, non-interactive (a pipe, a script, CI, or ``--format json``): exit 2 with
   ``error: … pass --yes to apply`` before anything is planned or changed.

Every operation runs through `IcebergLakehouse.run`, the single execution path.

Example:
    >>> Confirmation(yes=False, dry_run=True).mode(CliState(), "optimize demo.events")
    'preview'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from phlo_lakehouse.cli.command import CliState, error_document
from phlo_lakehouse.cli.output import Progress, emit_json, indent, render_pairs
from phlo_lakehouse.errors import ConfirmationRequired, InvalidInput, LakehouseError

if TYPE_CHECKING:
    from phlo_lakehouse.operations.base import OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

PREVIEW = "preview"
APPLY = "apply"
CONFIRM = "confirm"


@dataclass(frozen=True)
class Confirmation:
    """The ``--yes`` and ``--dry-run`` flags of one invocation.

    Example:
        >>> Confirmation(yes=True, dry_run=False).mode(CliState(), "vacuum raw.a")
        'apply'
    """

    yes: bool
    dry_run: bool

    def mode(self, state: CliState, change: str) -> str:
        """`PREVIEW`, `APPLY` or `CONFIRM` by the rule above.

        Args:
            state: the invocation (for interactivity).
            change: what would change, e.g. "optimize demo.events", for the error message.

        Raises:
            InvalidInput: both flags given.
            ConfirmationRequired: neither flag given and nobody can be asked.
        """
        if self.yes and self.dry_run:
            raise InvalidInput(
                "--yes and --dry-run exclude each other", hint="pass one of them, not both"
            )
        if self.dry_run:
            return PREVIEW
        if self.yes:
            return APPLY
        if state.interactive:
            return CONFIRM
        raise ConfirmationRequired(
            f"{change} changes the lakehouse and nobody can confirm here: pass --yes to apply",
            hint="--dry-run shows what would change without changing anything",
        )


def confirmed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--dry-run`` and ``--yes``/``-y``; the callback gets ``confirmation``.

    Example:
        >>> @click.command()
        ... @confirmed
        ... def wipe(confirmation):
        ...     pass
        >>> sorted(p.name for p in wipe.params)
        ['dry_run', 'yes']
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, yes: bool, dry_run: bool, **kwargs: Any) -> Any:
        return fn(*args, confirmation=Confirmation(yes=yes, dry_run=dry_run), **kwargs)

    wrapper = click.option(
        "--dry-run", is_flag=True, help="Show what would change; change nothing."
    )(wrapper)
    return click.option(
        "--yes", "-y", is_flag=True, help="Apply without asking (needed when not interactive)."
    )(wrapper)


def ask(question: str = "Apply these changes?") -> None:
    """Ask on stderr; anything but yes prints "nothing changed" and exits 1."""
    if not click.confirm(question, default=False, err=True):
        click.echo("aborted: nothing changed", err=True)
        raise click.exceptions.Exit(1)


@dataclass(frozen=True)
class ProgressUnit:
    """How plan figures size the progress bar of an operation.

    Example:
        >>> ProgressUnit("files", ("orphan_files",), "orphan_bytes").count({"orphan_files": 3})
        3
    """

    unit: str
    figures: tuple[str, ...]
    bytes_figure: str | None = None

    def count(self, figures: Mapping[str, Any]) -> int:
        """Units of work in ``figures``."""
        return sum(int(figures.get(name) or 0) for name in self.figures)

    def bytes(self, figures: Mapping[str, Any]) -> int:
        """Bytes of work in ``figures`` (0 when unknown)."""
        return int(figures.get(self.bytes_figure) or 0) if self.bytes_figure else 0


#: Runs a change on one table: ``runner(table, dry_run)`` returns the result (or the plan).
Runner = Callable[["LakehouseTable", bool], "OperationResult"]


def run_operation(
    state: CliState,
    operation: TableOperation,
    tables: Sequence[LakehouseTable],
    confirmation: Confirmation,
    unit: ProgressUnit | None = None,
) -> list[OperationResult]:
    """`run_changes` for one `TableOperation`, through ``lakehouse.run`` on each table."""
    lakehouse = state.lakehouse

    def runner(table: LakehouseTable, dry_run: bool) -> OperationResult:
        return lakehouse.run(operation, table.identifier, table.ref, dry_run=dry_run)

    return run_changes(state, operation.name, tables, runner, confirmation, unit)


def run_changes(
    state: CliState,
    name: str,
    tables: Sequence[LakehouseTable],
    runner: Runner,
    confirmation: Confirmation,
    unit: ProgressUnit | None = None,
) -> list[OperationResult]:
    """Preview, confirm or apply a change on ``tables`` by the rule, and print the results.

    Args:
        state: the invocation.
        name: the change, e.g. "optimize" (for messages and the progress label).
        tables: the loaded tables, in order.
        runner: ``runner(table, dry_run)``; with ``dry_run=True`` it must change nothing.
        confirmation: the ``--yes``/``--dry-run`` flags.
        unit: how plan figures size the progress bar (None: no bar).

    Plans (dry runs) size the progress bar; the bar advances as each table completes.
    """
    names = ", ".join(str(t.identifier) for t in tables)
    mode = confirmation.mode(state, f"{name} {names}")
    if mode == PREVIEW:
        previews = [runner(t, True) for t in tables]
        show_results(state, name, previews, footer="dry run: nothing changed")
        return previews
    bar_wanted = unit is not None and state.show_progress
    plans = [runner(t, True) for t in tables] if mode == CONFIRM or bar_wanted else None
    if mode == CONFIRM:
        assert plans is not None
        show_results(state, name, plans)
        ask()
    count = unit.count if unit is not None else (lambda figures: 0)
    size = unit.bytes if unit is not None else (lambda figures: 0)
    results = []
    total = sum(count(p.figures) for p in plans or [])
    with Progress(
        f"{name} {names if len(tables) == 1 else f'{len(tables)} tables'}",
        total=total,
        unit=unit.unit if unit is not None else "",
        total_bytes=sum(size(p.figures) for p in plans or []) or None,
        enabled=bar_wanted and total > 0,
    ) as bar:
        for index, table in enumerate(tables):
            results.append(runner(table, False))
            planned = plans[index].figures if plans else {}
            bar.advance(count(planned), size(planned))
    error = undeleted_error(results)
    show_results(state, name, results, error=error)
    if error is not None:
        raise error
    return results


def undeleted_error(results: Sequence[OperationResult]) -> LakehouseError | None:
    """The error (exit 1) to raise after printing ``results`` when files could not be deleted."""
    from phlo_lakehouse.errors import DeletionIncomplete

    undeleted = [(r.table, p) for r in results for p in r.details.get("delete_failures") or ()]
    if not undeleted:
        return None
    table, path = undeleted[0]
    return DeletionIncomplete(
        f"{len(undeleted)} file(s) could not be deleted, e.g. {path} of {table}",
        hint="the result lists them under delete_failures with the reason; nothing else "
        "was lost — fix the store (permissions, throttling) and run the command again",
    )


def show_results(
    state: CliState,
    operation: str,
    results: Sequence[OperationResult],
    *,
    footer: str | None = None,
    error: LakehouseError | None = None,
) -> None:
    """Print operation results: one JSON document (with ``error``, raised next, in it), or a
    block of figures per table (and ``footer`` on stderr)."""
    dry_run = all(r.dry_run for r in results)
    if state.json:
        document = {
            "operation": operation,
            "dry_run": dry_run,
            "results": [r.to_dict() for r in results],
        }
        emit_json({**document, **error_document(error)} if error else document)
        return
    for result in results:
        click.echo(f"{result.operation} {result.table}@{result.ref}: {_status(result)}")
        click.echo(indent(render_pairs(result.figures.items())))
    if footer:
        click.echo(footer, err=True)


def _status(result: OperationResult) -> str:
    if result.dry_run:
        return "plan"
    before, after = result.snapshot_id_before, result.snapshot_id_after
    if result.committed and before != after:
        return f"committed, {result.ref} now at snapshot {after} (was {before})"
    if result.committed:
        return f"committed, {result.ref} still at snapshot {after}"
    return "done, no new snapshot"


def confirm_change(
    state: CliState,
    confirmation: Confirmation,
    change: str,
    preview: Callable[[], Mapping[str, Any]],
) -> bool:
    """The rule for a change that is not a table operation (demo data, Nessie references).

    Shows ``preview()`` (what would change) unless ``--yes``; returns True when the change
    should now be applied, False after a ``--dry-run`` preview. Declining exits 1.
    """
    mode = confirmation.mode(state, change)
    if mode == APPLY:
        return True
    show_document(state, {**preview(), "dry_run": True})
    if mode == PREVIEW:
        click.echo("dry run: nothing changed", err=True)
        return False
    ask()
    return True


def show_document(state: CliState, document: Mapping[str, Any]) -> None:
    """One JSON document, or ``key: value`` lines (lists joined by commas)."""
    if state.json:
        emit_json(dict(document))
        return
    click.echo(
        render_pairs(
            (k, ", ".join(map(str, v)) if isinstance(v, list | tuple) else v)
            for k, v in document.items()
        )
    )
