"""``snapshots list|rollback|set-current|tag|branch`` on top of `SnapshotManager`.

Every change is a `TableOperation` the manager runs through ``lakehouse.run``; the CLI previews,
confirms or applies it by the ``--dry-run``/``--yes`` rule (`phlo_lakehouse.cli.apply`). Refs
follow the catalog: Nessie references on Nessie, Iceberg table refs elsewhere.

Example:
    $ phlo-lakehouse snapshots list demo.events
    $ phlo-lakehouse snapshots tag demo.events v1 --yes
    $ phlo-lakehouse snapshots rollback demo.events --to-snapshot 4242 --yes
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import click

from phlo_lakehouse.cli.apply import Confirmation, confirmed, run_changes
from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.output import emit_json, render_rows
from phlo_lakehouse.cli.params import DURATION, REF, TableParam
from phlo_lakehouse.cli.table_args import with_table
from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from phlo_lakehouse.snapshots import SnapshotManager
    from phlo_lakehouse.table import LakehouseTable

_OTHER_TABLES_HELP = "On Nessie, allow moving the branch even when other tables change with it."


def _manager() -> SnapshotManager:
    from phlo_lakehouse.snapshots import SnapshotManager

    return SnapshotManager(current_state().lakehouse)


@click.group(cls=LakehouseGroup)
def snapshots() -> None:
    """Snapshots of a table: list, roll back, tag and branch."""


@snapshots.command("list")
@click.argument("table", type=TableParam())
@click.option(
    "--ref",
    type=REF,
    default=None,
    help="Only the history of this branch or tag (default: every snapshot; Nessie: main).",
)
def list_snapshots(table: str, ref: str | None) -> None:
    """List a table's snapshots, newest first, with the refs pointing at them.

    Example: phlo-lakehouse snapshots list demo.events --ref main
    """
    state = current_state()
    found = _manager().list_snapshots(table, ref)
    if state.json:
        emit_json({"table": table, "ref": ref, "snapshots": [s.to_dict() for s in found]})
        return
    rows = [
        {
            "snapshot_id": s.snapshot_id,
            "parent_id": s.parent_id,
            "timestamp": s.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            "operation": s.operation,
            "records": _int(s.summary.get("total-records")),
            "refs": ",".join(s.refs),
        }
        for s in found
    ]
    columns = ["snapshot_id", "parent_id", "timestamp", "operation", "records", "refs"]
    click.echo(render_rows(rows, columns) if rows else "no snapshots")


@snapshots.command()
@with_table()
@click.option("--to-snapshot", type=int, default=None, help="An ancestor snapshot id.")
@click.option(
    "--to-timestamp",
    default=None,
    metavar="ISO-8601",
    help="The latest ancestor older than this, e.g. 2026-01-31T12:00Z.",
)
@click.option("--allow-other-tables", is_flag=True, help=_OTHER_TABLES_HELP)
@confirmed
def rollback(
    table: LakehouseTable,
    to_snapshot: int | None,
    to_timestamp: str | None,
    allow_other_tables: bool,
    confirmation: Confirmation,
) -> None:
    """Move branch --ref (default main) back to an ancestor snapshot.

    Example: phlo-lakehouse snapshots rollback demo.events --to-snapshot 4242 --yes
    """
    if (to_snapshot is None) == (to_timestamp is None):
        raise InvalidInput(
            "rollback needs exactly one of --to-snapshot and --to-timestamp",
            hint="list snapshots with `phlo-lakehouse snapshots list TABLE`",
        )
    manager = _manager()

    def runner(handle: LakehouseTable, dry_run: bool):
        if to_snapshot is not None:
            return manager.rollback_to_snapshot(
                handle.identifier,
                to_snapshot,
                ref=handle.ref,
                dry_run=dry_run,
                allow_other_tables=allow_other_tables,
            )
        return manager.rollback_to_timestamp(
            handle.identifier,
            to_timestamp or "",
            ref=handle.ref,
            dry_run=dry_run,
            allow_other_tables=allow_other_tables,
        )

    run_changes(current_state(), "rollback", [table], runner, confirmation)


@snapshots.command("set-current")
@with_table()
@click.argument("snapshot_id", type=int)
@click.option("--allow-other-tables", is_flag=True, help=_OTHER_TABLES_HELP)
@confirmed
def set_current(
    table: LakehouseTable,
    snapshot_id: int,
    allow_other_tables: bool,
    confirmation: Confirmation,
) -> None:
    """Point branch --ref (default main) at any snapshot of the table.

    Example: phlo-lakehouse snapshots set-current demo.events 4242 --yes
    """
    manager = _manager()

    def runner(handle: LakehouseTable, dry_run: bool):
        return manager.set_current_snapshot(
            handle.identifier,
            snapshot_id,
            ref=handle.ref,
            dry_run=dry_run,
            allow_other_tables=allow_other_tables,
        )

    run_changes(current_state(), "set_current_snapshot", [table], runner, confirmation)


@snapshots.command()
@with_table()
@click.argument("name", type=REF)
@click.option("--snapshot", "snapshot_id", type=int, default=None, help="Default: --ref's head.")
@click.option("--max-ref-age", type=DURATION, default=None, help="Expire the tag after, e.g. 30d.")
@confirmed
def tag(
    table: LakehouseTable,
    name: str,
    snapshot_id: int | None,
    max_ref_age: timedelta | None,
    confirmation: Confirmation,
) -> None:
    """Tag a snapshot (default: the head of --ref) as NAME.

    Example: phlo-lakehouse snapshots tag demo.events v1 --max-ref-age 30d --yes
    """
    manager = _manager()

    def runner(handle: LakehouseTable, dry_run: bool):
        return manager.create_tag(
            handle.identifier,
            name,
            snapshot_id=snapshot_id,
            ref=handle.ref,
            max_ref_age=max_ref_age,
            dry_run=dry_run,
        )

    run_changes(current_state(), "create_ref", [table], runner, confirmation)


@snapshots.command()
@with_table()
@click.argument("name", type=REF)
@click.option("--snapshot", "snapshot_id", type=int, default=None, help="Default: --ref's head.")
@click.option("--max-ref-age", type=DURATION, default=None, help="Remove the branch after.")
@click.option("--max-snapshot-age", type=DURATION, default=None, help="Expiry age on it.")
@click.option(
    "--min-snapshots-to-keep", type=click.IntRange(min=1), default=None, help="Expiry keeps."
)
@confirmed
def branch(
    table: LakehouseTable,
    name: str,
    snapshot_id: int | None,
    max_ref_age: timedelta | None,
    max_snapshot_age: timedelta | None,
    min_snapshots_to_keep: int | None,
    confirmation: Confirmation,
) -> None:
    """Create branch NAME at a snapshot (default: the head of --ref), with retention.

    Example: phlo-lakehouse snapshots branch demo.events dev --max-snapshot-age 7d --yes
    """
    manager = _manager()

    def runner(handle: LakehouseTable, dry_run: bool):
        return manager.create_branch(
            handle.identifier,
            name,
            snapshot_id=snapshot_id,
            ref=handle.ref,
            max_ref_age=max_ref_age,
            max_snapshot_age=max_snapshot_age,
            min_snapshots_to_keep=min_snapshots_to_keep,
            dry_run=dry_run,
        )

    run_changes(current_state(), "create_ref", [table], runner, confirmation)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
