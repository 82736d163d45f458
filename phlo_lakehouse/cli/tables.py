"""``tables list|describe|stats``: read-only views of the catalog's tables.

Example:
    $ phlo-lakehouse tables list
    $ phlo-lakehouse tables describe demo.events --format json
    $ phlo-lakehouse tables stats demo.events --full
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.output import (
    echo_section,
    emit_json,
    render_pairs,
    render_rows,
)
from phlo_lakehouse.cli.params import REF
from phlo_lakehouse.cli.table_args import with_table

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable


#: Figures that some collection paths only estimate (their names are in ``exact`` otherwise).
_ESTIMABLE = frozenset(
    {
        "row_count",
        "file_count",
        "delete_file_count",
        "size_bytes",
        "average_file_size",
        "position_delete_count",
        "equality_delete_count",
    }
)


@click.group(cls=LakehouseGroup)
def tables() -> None:
    """List tables, describe them and show their statistics."""


@tables.command("list")
@click.argument("namespace", required=False)
@click.option("--ref", type=REF, default=None, help="Branch or tag (Nessie reference).")
def list_tables(namespace: str | None, ref: str | None) -> None:
    """List the tables in NAMESPACE (every namespace when omitted).

    Example: phlo-lakehouse tables list raw
    """
    state = current_state()
    found = state.lakehouse.list_tables(namespace, ref)
    ref_name = ref or state.lakehouse.settings.default_ref
    if state.json:
        emit_json({"namespace": namespace, "ref": ref_name, "tables": [str(t) for t in found]})
        return
    rows = [{"table": str(t), "namespace": ".".join(t.namespace)} for t in found]
    click.echo(render_rows(rows, ["table", "namespace"]) if rows else "no tables")


@tables.command()
@with_table()
def describe(table: LakehouseTable) -> None:
    """Show a table's location, schema, partitioning, sort order, refs and properties.

    Example: phlo-lakehouse tables describe demo.events
    """
    state = current_state()
    doc = describe_table(table)
    if state.json:
        emit_json(doc)
        return
    click.echo(render_pairs((k, v) for k, v in doc.items() if not isinstance(v, list | dict)))
    echo_section("schema", render_rows(doc["schema"], ["id", "name", "type", "required"]))
    spec_columns = ["name", "source", "transform"]
    echo_section("partitioning", render_rows(doc["partition_spec"], spec_columns))
    echo_section("sort order", render_rows(doc["sort_order"], ["source", "direction", "nulls"]))
    echo_section("refs", render_rows(doc["refs"], ["name", "type", "snapshot_id"]))
    echo_section("properties", render_pairs(sorted(doc["properties"].items())))


@tables.command()
@with_table()
@click.option(
    "--full",
    is_flag=True,
    help="Read manifests too: partitions, small files, size histogram (slower).",
)
def stats(table: LakehouseTable, full: bool) -> None:
    """Show a table's statistics: rows, files, size, snapshots.

    The default reads only the snapshot summary (constant time); --full reads the manifests.

    Example: phlo-lakehouse tables stats demo.events --full
    """
    from phlo_lakehouse.metadata import MetadataCollector

    state = current_state()
    figures = MetadataCollector(full=full).collect(table).to_dict()
    if state.json:
        emit_json(figures)
        return
    histogram = figures.pop("file_size_histogram", None)
    exact = set(figures.pop("exact"))
    click.echo(
        render_pairs(
            (f"{k} (estimate)" if k in _ESTIMABLE and k not in exact else k, v)
            for k, v in figures.items()
            if v is not None
        )
    )
    if histogram:
        rows = [{"size": label, "files": count} for label, count in histogram.items()]
        echo_section("file sizes", render_rows(rows, ["size", "files"]))


def describe_table(handle: LakehouseTable) -> dict[str, Any]:
    """A JSON-ready description of ``handle``'s table as of its ref.

    Example:
        >>> describe_table(lakehouse.get_table("demo.events"))["format_version"]  # doctest: +SKIP
        2
    """
    table = handle.table
    metadata = table.metadata
    schema = table.schema()
    spec = table.spec()
    snapshot = handle.snapshot
    return {
        "table": str(handle.identifier),
        "ref": handle.ref,
        "ref_type": handle.ref_kind,
        "snapshot_id": handle.snapshot_id,
        "snapshot_timestamp_ms": snapshot.timestamp_ms if snapshot is not None else None,
        "location": table.location(),
        "metadata_location": table.metadata_location,
        "format_version": metadata.format_version,
        "table_uuid": str(metadata.table_uuid),
        "schema_id": schema.schema_id,
        "schema": [
            {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
            for f in schema.fields
        ],
        "partition_spec": [
            {
                "name": f.name,
                "source": _column(schema, f.source_id),
                "transform": str(f.transform),
            }
            for f in spec.fields
        ],
        "sort_order": [
            {
                "source": _column(schema, f.source_id),
                "direction": str(f.direction),
                "nulls": str(f.null_order),
            }
            for f in table.sort_order().fields
        ],
        "refs": [
            {"name": name, "type": str(ref.snapshot_ref_type), "snapshot_id": ref.snapshot_id}
            for name, ref in sorted(metadata.refs.items())
        ],
        "properties": dict(sorted(table.properties.items())),
    }


def _column(schema: Any, field_id: int) -> str:
    name = schema.find_column_name(field_id)
    return name if name is not None else f"#{field_id}"
