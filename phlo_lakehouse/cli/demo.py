"""``demo seed``: a fragmented demo table to try maintenance on, as ``make run`` seeds it.

Example:
    $ phlo-lakehouse demo seed --yes
    $ phlo-lakehouse optimize demo.events --dry-run
"""

from __future__ import annotations

from typing import Any

import click

from phlo_lakehouse.cli.apply import Confirmation, confirm_change, confirmed, show_document
from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.params import TableParam
from phlo_lakehouse.demo import DEMO_TABLE
from phlo_lakehouse.errors import InvalidInput


@click.group(cls=LakehouseGroup)
def demo() -> None:
    """Demo data for trying the lakehouse out."""


@demo.command()
@click.option(
    "--table", "name", type=TableParam(), default=DEMO_TABLE, show_default=True, help="Table."
)
@click.option("--commits", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--rows-per-commit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option(
    "--orphans",
    type=click.IntRange(min=0),
    default=12,
    show_default=True,
    help="Unreferenced 10-day-old files to plant for vacuum (local warehouses only).",
)
@click.option("--replace", is_flag=True, help="Drop the table first if it exists.")
@confirmed
def seed(
    name: str,
    commits: int,
    rows_per_commit: int,
    orphans: int,
    replace: bool,
    confirmation: Confirmation,
) -> None:
    """Create a demo table in many small commits, plus orphan files for vacuum.

    Example: phlo-lakehouse demo seed --commits 30 --rows-per-commit 200 --yes
    """
    from phlo_lakehouse.demo import plant_orphans, seed_demo_table

    state = current_state()
    state.create = True  # seeding is how a demo lakehouse comes to exist
    lakehouse = state.lakehouse
    exists = lakehouse.table_exists(name)
    if exists and not replace:
        raise InvalidInput(
            f"table {name} already exists", hint="pass --replace to drop and re-create it"
        )
    plan: dict[str, Any] = {
        "table": name,
        "replaces_existing_table": exists,
        "commits": commits,
        "rows": commits * rows_per_commit,
        "orphan_files": orphans,
        "catalog": lakehouse.settings.describe(),
    }
    if not confirm_change(state, confirmation, f"demo seed {name}", lambda: plan):
        return
    handle = seed_demo_table(
        lakehouse, name, commits=commits, rows_per_commit=rows_per_commit, replace=replace
    )
    planted = 0
    if orphans and handle.table.location().startswith("file:"):
        planted = len(plant_orphans(handle, count=orphans))
    show_document(
        state,
        {
            **plan,
            "dry_run": False,
            "orphan_files": planted,
            "snapshot_id": handle.snapshot_id,
            "location": handle.table.location(),
        },
    )
