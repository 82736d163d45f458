"""``schema show|diff|export|evolve|check`` on top of `SchemaManager`.

``evolve`` is an `EvolveSchemaOperation` run through ``lakehouse.run`` under the
``--dry-run``/``--yes`` rule; ``check`` validates the same changes against the schema history
under a compatibility mode and commits nothing (exit 1 when something breaks).

Example:
    $ phlo-lakehouse schema show demo.events
    $ phlo-lakehouse schema evolve demo.events --add country:string --rename kind=event_kind --yes
    $ phlo-lakehouse schema check demo.events --drop amount --mode FORWARD
    $ phlo-lakehouse schema export demo.events --as sql --dialect trino
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from phlo_lakehouse.cli.apply import Confirmation, confirmed, run_changes
from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.output import echo_section, emit_json, render_pairs, render_rows
from phlo_lakehouse.cli.params import PairParam
from phlo_lakehouse.cli.table_args import with_table

if TYPE_CHECKING:
    from phlo_lakehouse.schema import SchemaManager
    from phlo_lakehouse.table import LakehouseTable

MODES = (
    "BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE",
    "FULL_TRANSITIVE", "NONE",
)  # fmt: skip
EXPORT_FORMATS = ("markdown", "sql", "python", "json", "arrow")


def _manager() -> SchemaManager:
    from phlo_lakehouse.schema import SchemaManager

    return SchemaManager(current_state().lakehouse)


@click.group(cls=LakehouseGroup)
def schema() -> None:
    """Schemas: show, diff, export, evolve, check compatibility."""


@schema.command()
@with_table()
def show(table: LakehouseTable) -> None:
    """Show a table's current schema and its schema versions.

    Example: phlo-lakehouse schema show demo.events
    """
    current = table.table.schema()
    versions = sorted(s.schema_id for s in table.table.metadata.schemas)
    fields = [
        {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required,
         "doc": f.doc}
        for f in current.fields
    ]  # fmt: skip
    doc = {
        "table": str(table.identifier),
        "ref": table.ref,
        "schema_id": current.schema_id,
        "schema_ids": versions,
        "identifier_fields": list(current.identifier_field_names()),
        "fields": fields,
    }
    if current_state().json:
        emit_json(doc)
        return
    click.echo(render_pairs([("table", doc["table"]), ("schema_id", current.schema_id),
                             ("versions", ", ".join(map(str, versions)))]))  # fmt: skip
    echo_section("columns", render_rows(fields, ["id", "name", "type", "required", "doc"]))


@schema.command()
@with_table()
@click.option("--from", "from_id", type=int, default=None, help="Schema id (default: previous).")
@click.option("--to", "to_id", type=int, default=None, help="Schema id (default: current).")
def diff(table: LakehouseTable, from_id: int | None, to_id: int | None) -> None:
    """Show what changed between two schema versions, field by field.

    Example: phlo-lakehouse schema diff demo.events --from 0 --to 1
    """
    result = _manager().diff_schemas(table.identifier, from_id, to_id, ref=table.ref)
    doc = {"table": str(table.identifier), **result.to_dict()}
    if current_state().json:
        emit_json(doc)
        return
    click.echo(f"schema {result.from_schema_id} -> {result.to_schema_id}")
    columns = ["field_id", "kind", "path", "before", "after"]
    click.echo(render_rows(doc["changes"], columns) if result.changes else "no changes")


@schema.command()
@with_table()
@click.option(
    "--as", "export_format", type=click.Choice(EXPORT_FORMATS), default="markdown",
    show_default=True, help="What to export.",
)  # fmt: skip
@click.option("--dialect", type=click.Choice(["spark", "trino"]), default="spark",
              show_default=True, help="SQL dialect for --as sql.")  # fmt: skip
@click.option("--table-name", default=None, help="Name used in the DDL (default: catalog.table).")
def export(table: LakehouseTable, export_format: str, dialect: str, table_name: str | None) -> None:
    """Export the schema as markdown, SQL DDL (Spark/Trino), PyIceberg code, JSON or Arrow.

    Example: phlo-lakehouse schema export demo.events --as sql --dialect trino
    """
    text = _manager().export_schema(
        table.identifier, export_format, dialect=dialect, table_name=table_name, ref=table.ref
    )
    if current_state().json:
        emit_json({"table": str(table.identifier), "as": export_format, "text": text})
        return
    click.echo(text)


def schema_changes(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the change options (--add, --drop, --rename, --widen, --make-optional); the
    callback gets ``changes``, keyword arguments for `SchemaManager.evolve_schema`."""

    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        add: tuple[tuple[str, str], ...],
        drop: tuple[str, ...],
        rename: tuple[tuple[str, str], ...],
        widen: tuple[tuple[str, str], ...],
        make_optional: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        changes = {
            "add_columns": dict(add) or None,
            "drop_columns": list(drop),
            "rename_columns": dict(rename) or None,
            "widen_types": dict(widen) or None,
            "make_optional": list(make_optional),
        }
        return fn(*args, changes=changes, **kwargs)

    options = [
        click.option("--make-optional", multiple=True, metavar="COLUMN",
                     help="Make a required column optional (repeatable)."),
        click.option("--widen", multiple=True, type=PairParam(":", "COLUMN:TYPE"),
                     help="Widen a type: int->long, float->double, decimal precision."),
        click.option("--rename", multiple=True, type=PairParam("=", "OLD=NEW"),
                     help="Rename a column (repeatable)."),
        click.option("--drop", multiple=True, metavar="COLUMN", help="Drop a column."),
        click.option("--add", multiple=True, type=PairParam(":", "NAME:TYPE"),
                     help="Add an optional column, e.g. country:string (repeatable)."),
    ]  # fmt: skip
    for option in options:
        wrapper = option(wrapper)
    return wrapper


@schema.command()
@with_table()
@schema_changes
@confirmed
def evolve(table: LakehouseTable, changes: dict[str, Any], confirmation: Confirmation) -> None:
    """Change the schema in one validated commit: add, drop, rename, widen, relax.

    Example: phlo-lakehouse schema evolve demo.events --add country:string --yes
    """
    manager = _manager()

    def runner(handle: LakehouseTable, dry_run: bool):
        return manager.evolve_schema(handle.identifier, ref=handle.ref, dry_run=dry_run, **changes)

    run_changes(current_state(), "evolve_schema", [table], runner, confirmation)


@schema.command()
@with_table()
@schema_changes
@click.option(
    "--mode", type=click.Choice(MODES, case_sensitive=False), default="BACKWARD",
    show_default=True, help="Compatibility mode, as a schema registry's.",
)  # fmt: skip
def check(table: LakehouseTable, changes: dict[str, Any], mode: str) -> None:
    """Check whether the changes keep the schema compatible; commits nothing.

    Exits 0 when compatible, 1 when a change breaks the mode.

    Example: phlo-lakehouse schema check demo.events --drop amount --mode FORWARD
    """
    report = _manager().validate_evolution(table.identifier, mode=mode, ref=table.ref, **changes)
    doc = {"table": str(table.identifier), **report.to_dict()}
    if current_state().json:
        emit_json(doc)
    else:
        verdict = "compatible" if report.compatible else "NOT compatible"
        click.echo(f"{doc['table']}: {verdict} under {report.mode}")
        if report.breaking:
            columns = ["path", "direction", "against_schema_id", "reason"]
            click.echo(render_rows(doc["breaking"], columns))
    if not report.compatible:
        raise click.exceptions.Exit(1)
