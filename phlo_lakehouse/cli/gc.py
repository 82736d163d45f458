"""``gc`` and ``gc apply-deferred``: Nessie garbage collection (`phlo_lakehouse.gc`).

``gc`` marks every file a live commit of any reference needs (each reference walked back to its
``--cutoff``), lists every table location and deletes what no live commit needs and is older
than ``--older-than``. It follows the ``--dry-run``/``--yes`` rule; ``--defer FILE`` writes the
candidates to FILE instead of deleting them (nothing in storage changes, so no ``--yes`` is
needed), and ``gc apply-deferred FILE`` deletes them after review. Exit 1 when a file could not
be deleted; exit 2 on bad input, before anything is read or deleted.

Example:
    $ phlo-lakehouse gc --cutoff P10D --cutoff 'dev-.*=5' --dry-run
    $ phlo-lakehouse gc --cutoff P10D --defer gc-candidates.jsonl
    $ phlo-lakehouse gc apply-deferred gc-candidates.jsonl --yes
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from phlo_lakehouse.cli.apply import (
    APPLY,
    PREVIEW,
    Confirmation,
    ask,
    confirmed,
    undeleted_error,
)
from phlo_lakehouse.cli.command import LakehouseGroup, current_state, error_document
from phlo_lakehouse.cli.output import emit_json, indent, render_pairs
from phlo_lakehouse.cli.params import DURATION, PREFIX_MISMATCH_OPTION, BadValue
from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from phlo_lakehouse.cli.command import CliState
    from phlo_lakehouse.operations.base import OperationResult

#: Candidate paths printed in table output (``--format json`` has up to 1,000).
SHOWN = 20


class CutoffParam(click.ParamType):
    """A cutoff policy (NONE, 5, P10D, 36h, an ISO instant) or REF_REGEX=POLICY."""

    name = "policy"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from phlo_lakehouse.gc.cutoff import CutoffRules

        try:
            CutoffRules.parse([str(value)], reference_time=datetime.now(UTC), name="--cutoff")
        except InvalidInput as error:
            raise BadValue(error, ctx, param) from error
        return str(value)


class RefRegexParam(click.ParamType):
    """A regular expression over whole reference names."""

    name = "regex"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from phlo_lakehouse.gc.cutoff import compile_ref_regex

        try:
            compile_ref_regex(str(value), name="--ref-regex")
        except InvalidInput as error:
            raise BadValue(error, ctx, param) from error
        return str(value)


@click.group(cls=LakehouseGroup, invoke_without_command=True)
@click.option(
    "--ref-regex",
    type=RefRegexParam(),
    default=".*",
    show_default=True,
    help="References to collect garbage for (whole names); the others keep all history.",
)
@click.option(
    "--cutoff",
    "cutoffs",
    type=CutoffParam(),
    multiple=True,
    help="NONE (default), N commits, a duration (P10D, 36h) or an instant; "
    "per reference REGEX=POLICY (repeatable, first match wins).",
)
@click.option(
    "--older-than",
    type=DURATION,
    default="3d",
    show_default=True,
    help="Only files older than this (before the live set was built) are deleted.",
)
@click.option("--force", is_flag=True, help="Allow --older-than under 24h (no writer active).")
@click.option(
    "--defer",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="Write the candidates to FILE for review instead of deleting them.",
)
@PREFIX_MISMATCH_OPTION
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the run's scratch store goes (default: the system temp directory); it needs "
    "about 200 bytes per live or listed file.",
)
@confirmed
@click.pass_context
def gc(
    ctx: click.Context,
    ref_regex: str,
    cutoffs: tuple[str, ...],
    older_than: timedelta,
    force: bool,
    defer: str | None,
    prefix_mismatch: str,
    work_dir: str | None,
    confirmation: Confirmation,
) -> None:
    """Nessie GC: delete files no live commit of any branch or tag needs.

    Each reference is walked back to its --cutoff; every table metadata of those commits keeps
    its files. Files under table locations that nothing keeps and that are older than
    --older-than are deleted (or, with --defer, listed in a file).

    Example: phlo-lakehouse gc --cutoff P10D --cutoff 'dev-.*=5' --dry-run
    """
    if ctx.invoked_subcommand is not None:
        return
    from phlo_lakehouse.gc.operation import NessieGCOperation
    from phlo_lakehouse.gc.settings import GCSettings

    GCSettings(older_than=older_than, force=force, prefix_mismatch=prefix_mismatch)
    if defer is not None and confirmation.dry_run:
        raise InvalidInput(
            "--defer and --dry-run exclude each other",
            hint="--defer FILE already deletes nothing: it lists the candidates in FILE",
        )
    state = current_state()
    _require_nessie(state)

    def operation() -> NessieGCOperation:
        return NessieGCOperation(
            ref_regex=ref_regex,
            cutoffs=cutoffs,
            older_than=older_than,
            force=force,
            defer=defer,
            prefix_mismatch=prefix_mismatch,
            work_dir=work_dir,
        )

    if defer is not None:
        _show(state, state.lakehouse.run_catalog(operation(), None))
        return
    _run(state, operation, confirmation, "gc")


@gc.command("apply-deferred")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the scratch store goes (default: the system temp directory).",
)
@confirmed
def apply_deferred(file: str, work_dir: str | None, confirmation: Confirmation) -> None:
    """Delete the candidates a `gc --defer FILE` run listed (after review).

    Lines removed from FILE keep their files. The live set is built again first, with the
    run's cutoffs: a file that became live since (a branch moved back, a tag created) is kept.

    Example: phlo-lakehouse gc apply-deferred gc-candidates.jsonl --yes
    """
    from phlo_lakehouse.gc.operation import ApplyDeferredGCOperation

    state = current_state()
    _require_nessie(state)
    path = Path(file)
    ApplyDeferredGCOperation(path)  # reads the file's header: a bad file fails first
    _run(
        state,
        lambda: ApplyDeferredGCOperation(path, work_dir=work_dir),
        confirmation,
        f"gc apply-deferred {file}",
    )


def _require_nessie(state: CliState) -> None:
    if not state.lakehouse.is_nessie:
        raise InvalidInput(
            f"gc needs a Nessie catalog, not the {state.lakehouse.settings.describe()}",
            hint="point the CLI at Nessie (NESSIE_HOST/NESSIE_PORT or --catalog-type nessie "
            "--catalog-uri http://nessie:19120); other catalogs use vacuum and expire",
        )


def _run(state: CliState, operation: Any, confirmation: Confirmation, change: str) -> None:
    """The --dry-run/--yes rule for one catalog-level operation (``operation()`` builds it)."""
    mode = confirmation.mode(state, change)
    lakehouse = state.lakehouse
    if mode != APPLY:
        plan = lakehouse.run_catalog(operation(), None, dry_run=True)
        _show(state, plan)
        if mode == PREVIEW:
            click.echo("dry run: nothing deleted", err=True)
            return
        ask("Delete these files?")
    _show(state, lakehouse.run_catalog(operation(), None))


def _show(state: CliState, result: OperationResult) -> None:
    failures = result.details.get("delete_failures") or {}
    error = undeleted_error([result])
    if state.json:
        emit_json({**result.to_dict(), **error_document(error)} if error else result.to_dict())
    else:
        status = "dry run" if result.dry_run else "done"
        click.echo(f"{result.operation} {result.table}: {status}")
        click.echo(indent(render_pairs(result.figures.items())))
        shown = list(result.details.get("candidate_files") or [])
        if result.dry_run and shown:
            more = int(result.figures.get("candidates") or 0) - min(len(shown), SHOWN)
            click.echo("candidates:")
            click.echo(indent("\n".join(shown[:SHOWN])))
            if more > 0:
                click.echo(f"  … and {more} more (--defer FILE lists them all)")
        if result.details.get("deferred_file"):
            click.echo(f"candidates written to {result.details['deferred_file']}")
        for uri, reason in list(failures.items())[:SHOWN]:
            click.echo(f"not deleted: {uri}: {reason}", err=True)
    if error is not None:
        raise error
