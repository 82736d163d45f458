"""``refs list|create|delete|assign|diff|merge``: catalog-wide Nessie references.

Nessie catalogs only; on other catalogs branches and tags belong to each table (see
``snapshots tag|branch``) and these commands exit 2. Changes are catalog-level operations of the
one executor (`phlo_lakehouse.operations.nessie_refs`): access-checked (``manage_refs`` on
``<catalog>@<ref>``), audited and measured like table operations; the preview is the
operation's dry run, under the same ``--dry-run``/``--yes`` rule.

Example:
    $ phlo-lakehouse refs create dev --from main --yes
    $ phlo-lakehouse refs diff main dev
    $ phlo-lakehouse refs merge dev --onto main --dry-run
    $ phlo-lakehouse refs assign dev --to main --yes
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from phlo_lakehouse.cli.apply import Confirmation, confirm_change, confirmed, show_document
from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.output import emit_json, render_rows
from phlo_lakehouse.cli.params import REF

if TYPE_CHECKING:
    from phlo_lakehouse.nessie import NessieReferences
    from phlo_lakehouse.operations.base import CatalogOperation


def _refs() -> NessieReferences:
    return current_state().lakehouse.nessie


def _change(
    operation: CatalogOperation, ref: str, change: str, confirmation: Confirmation
) -> Mapping[str, Any] | None:
    """Preview (the operation's dry run) and apply ``operation`` on ``ref`` through the
    executor, under the ``--dry-run``/``--yes`` rule; the applied result's details, or None
    after a preview."""
    state = current_state()
    lakehouse = state.lakehouse

    def preview() -> Mapping[str, Any]:
        return lakehouse.run_catalog(operation, ref, dry_run=True).details

    if not confirm_change(state, confirmation, change, preview):
        return None
    details = lakehouse.run_catalog(operation, ref).details
    show_document(state, {**details, "dry_run": False})
    return details


@click.group(cls=LakehouseGroup)
def refs() -> None:
    """Nessie branches and tags: list, create, delete, assign, diff and merge."""


@refs.command("list")
def list_refs() -> None:
    """List every branch and tag with the commit it points at.

    Example: phlo-lakehouse refs list
    """
    found = [asdict(r) for r in _refs().list()]
    if current_state().json:
        emit_json({"refs": found})
        return
    click.echo(render_rows(found, ["name", "kind", "hash"]) if found else "no references")


@refs.command()
@click.argument("name", type=REF)
@click.option("--from", "from_ref", type=REF, default="main", show_default=True)
@click.option("--hash", "commit", default=None, help="A commit of --from (default: its head).")
@click.option("--tag", "is_tag", is_flag=True, help="Create a tag instead of a branch.")
@confirmed
def create(
    name: str, from_ref: str, commit: str | None, is_tag: bool, confirmation: Confirmation
) -> None:
    """Create branch (or, with --tag, tag) NAME at the head of --from.

    Example: phlo-lakehouse refs create dev --from main --yes
    """
    from phlo_lakehouse.operations.nessie_refs import CreateReference

    kind = "tag" if is_tag else "branch"
    operation = CreateReference(from_ref=from_ref, kind=kind, hash=commit)
    _change(operation, name, f"refs create {name}", confirmation)


@refs.command()
@click.argument("name", type=REF)
@confirmed
def delete(name: str, confirmation: Confirmation) -> None:
    """Delete branch or tag NAME.

    Example: phlo-lakehouse refs delete dev --yes
    """
    from phlo_lakehouse.operations.nessie_refs import DeleteReference

    _change(DeleteReference(), name, f"refs delete {name}", confirmation)


@refs.command()
@click.argument("name", type=REF)
@click.option("--to", "to_ref", type=REF, required=True, help="The reference to point NAME at.")
@click.option("--hash", "commit", default=None, help="A commit of --to (default: its head).")
@confirmed
def assign(name: str, to_ref: str, commit: str | None, confirmation: Confirmation) -> None:
    """Point branch or tag NAME at the head of --to (or at its commit --hash).

    Example: phlo-lakehouse refs assign dev --to main --yes
    """
    from phlo_lakehouse.operations.nessie_refs import AssignReference

    operation = AssignReference(to_ref, hash=commit)
    _change(operation, name, f"refs assign {name} to {to_ref}", confirmation)


@refs.command()
@click.argument("from_ref", metavar="FROM", type=REF)
@click.argument("to_ref", metavar="TO", type=REF)
def diff(from_ref: str, to_ref: str) -> None:
    """Show the tables whose content differs between FROM and TO.

    "added" is on TO only, "removed" on FROM only.

    Example: phlo-lakehouse refs diff main dev
    """
    changes = [asdict(c) for c in _refs().diff(from_ref, to_ref)]
    if current_state().json:
        emit_json({"from": from_ref, "to": to_ref, "changes": changes})
        return
    columns = ["table", "change", "snapshot_id_before", "snapshot_id_after"]
    click.echo(render_rows(changes, columns) if changes else "no differences")


@refs.command()
@click.argument("from_ref", metavar="FROM", type=REF)
@click.option("--onto", type=REF, default="main", show_default=True, help="The target branch.")
@click.option("--delete-source", is_flag=True, help="Delete FROM after a successful merge.")
@click.option("--message", default=None, help="The merge commit message.")
@confirmed
def merge(
    from_ref: str,
    onto: str,
    delete_source: bool,
    message: str | None,
    confirmation: Confirmation,
) -> None:
    """Merge FROM onto branch --onto; the preview lists conflicting tables.

    A merge with conflicts is never applied (exit 1, nothing merged).

    Example: phlo-lakehouse refs merge dev --onto main --yes
    """
    from phlo_lakehouse.operations.nessie_refs import MergeReference

    operation = MergeReference(from_ref, delete_source=delete_source, message=message)
    _change(operation, onto, f"refs merge {from_ref} onto {onto}", confirmation)
