"""``refs list|create|delete|diff|merge``: catalog-wide Nessie references (`NessieReferences`).

Nessie catalogs only; on other catalogs branches and tags belong to each table (see
``snapshots tag|branch``) and these commands exit 2. References are not table operations, so
changes go through `NessieReferences` directly, under the same ``--dry-run``/``--yes`` rule.

Example:
    $ phlo-lakehouse refs create dev --from main --yes
    $ phlo-lakehouse refs diff main dev
    $ phlo-lakehouse refs merge dev --onto main --dry-run
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from phlo_lakehouse.cli.apply import Confirmation, confirm_change, confirmed, show_document
from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.output import emit_json, render_rows
from phlo_lakehouse.cli.params import REF
from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from phlo_lakehouse.nessie import NessieReferences


def _refs() -> NessieReferences:
    return current_state().lakehouse.nessie


@click.group(cls=LakehouseGroup)
def refs() -> None:
    """Nessie branches and tags: list, create, delete, diff and merge."""


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
    state, nessie = current_state(), _refs()
    source = nessie.get(from_ref)
    kind = "TAG" if is_tag else "BRANCH"
    plan = {
        "action": "create",
        "name": name,
        "kind": kind,
        "from": source.name,
        "hash": commit or source.hash,
    }
    if not confirm_change(state, confirmation, f"refs create {name}", lambda: plan):
        return
    make = nessie.create_tag if is_tag else nessie.create_branch
    created = make(name, source.name, hash=commit)
    show_document(state, {**plan, "hash": created.hash, "dry_run": False})


@refs.command()
@click.argument("name", type=REF)
@confirmed
def delete(name: str, confirmation: Confirmation) -> None:
    """Delete branch or tag NAME.

    Example: phlo-lakehouse refs delete dev --yes
    """
    state, nessie = current_state(), _refs()
    ref = nessie.get(name)
    if ref.name == "main":
        raise InvalidInput("main cannot be deleted", hint="delete another branch or tag")
    plan = {"action": "delete", "name": ref.name, "kind": ref.kind, "hash": ref.hash}
    if not confirm_change(state, confirmation, f"refs delete {name}", lambda: plan):
        return
    nessie.delete(ref.name)
    show_document(state, {**plan, "dry_run": False})


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
    state, nessie = current_state(), _refs()

    def preview() -> dict[str, object]:
        return asdict(nessie.merge(from_ref, onto, dry_run=True))

    if not confirm_change(state, confirmation, f"refs merge {from_ref} onto {onto}", preview):
        return
    result = nessie.merge(from_ref, onto, delete_source=delete_source, message=message)
    show_document(state, asdict(result))
