"""``migrate hive|glue|catalog``: move tables into Iceberg without rewriting data.

The target is the CLI's catalog (``--home``/``--catalog-*`` or the environment). Every migration
previews first under the ``--dry-run``/``--yes`` rule; the plan lists what would be created,
registered or moved. Exit 1 when a table failed (the others still migrate).

Example:
    $ phlo-lakehouse migrate hive 'sales.*' --metastore thrift://hms:9083 --dry-run
    $ phlo-lakehouse migrate glue 'sales.orders' --mode migrate --yes
    $ phlo-lakehouse --home .lakehouse migrate catalog 'raw.*' --to-type nessie \\
        --to-uri http://nessie:19120 --drop-source --yes
"""

from __future__ import annotations

from typing import Any

import click

from phlo_lakehouse.cli.apply import APPLY, CONFIRM, Confirmation, ask, confirmed
from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.output import emit_json
from phlo_lakehouse.errors import TableNotFound

_COMMON = [
    click.option("--namespace", default=None, help="Target namespace (default: the source's)."),
    click.option("--suffix", default="", help="Appended to target table names."),
    click.option("--no-validate", is_flag=True, help="Skip row/schema/file/checksum validation."),
]


def _common(fn: Any) -> Any:
    for option in reversed(_COMMON):
        fn = option(fn)
    return fn


@click.group(cls=LakehouseGroup)
def migrate() -> None:
    """Migrate Hive, Glue or Iceberg tables into this catalog."""


@migrate.command()
@click.argument("selectors", nargs=-1, required=True)
@click.option("--metastore", required=True, help="Hive metastore URI, thrift://host:9083.")
@click.option("--mode", type=click.Choice(["snapshot", "migrate"]), default="snapshot")
@_common
@confirmed
def hive(
    selectors: tuple[str, ...],
    metastore: str,
    mode: str,
    confirmation: Confirmation,
    **options: Any,
) -> None:
    """Parquet tables of a Hive metastore become Iceberg tables over the same files.

    Example: phlo-lakehouse migrate hive 'sales.*' --metastore thrift://hms:9083 --yes
    """
    from phlo_lakehouse.migration import HiveMigration

    _run(
        HiveMigration(
            current_state().lakehouse, metastore_uri=metastore, mode=mode, **_options(options)
        ),
        selectors,
        confirmation,
    )


@migrate.command()
@click.argument("selectors", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["snapshot", "migrate"]), default="snapshot")
@click.option("--glue-endpoint", default=None, help="Glue endpoint override.")
@click.option("--region", default=None, help="Glue region.")
@_common
@confirmed
def glue(
    selectors: tuple[str, ...],
    mode: str,
    glue_endpoint: str | None,
    region: str | None,
    confirmation: Confirmation,
    **options: Any,
) -> None:
    """Parquet tables in AWS Glue become Iceberg tables over the same files.

    Example: phlo-lakehouse migrate glue 'sales.orders' --mode migrate --yes
    """
    from phlo_lakehouse.migration import GlueMigration

    lakehouse = current_state().lakehouse
    props = dict(lakehouse.settings.properties)
    if glue_endpoint:
        props["glue.endpoint"] = glue_endpoint
    if region:
        props["glue.region"] = region
    _run(
        GlueMigration(lakehouse, glue_properties=props, mode=mode, **_options(options)),
        selectors,
        confirmation,
    )


@migrate.command()
@click.argument("selectors", nargs=-1, required=True)
@click.option(
    "--to-type", required=True, type=click.Choice(["sql", "rest", "nessie", "glue", "hive"])
)
@click.option("--to-uri", default=None, help="Target catalog URI.")
@click.option("--to-warehouse", default=None, help="Target warehouse.")
@click.option("--drop-source", is_flag=True, help="Drop the source entries (files kept).")
@_common
@confirmed
def catalog(
    selectors: tuple[str, ...],
    to_type: str,
    to_uri: str | None,
    to_warehouse: str | None,
    drop_source: bool,
    confirmation: Confirmation,
    **options: Any,
) -> None:
    """Register Iceberg tables of this catalog in another one (no data copied).

    Example: phlo-lakehouse migrate catalog 'raw.*' --to-type sql --to-uri sqlite:///x.db \
        --to-warehouse file:///wh --drop-source --yes
    """
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.migration import IcebergCatalogMigration

    source = current_state().lakehouse
    target = IcebergLakehouse(
        CatalogSettings(
            type=to_type,
            uri=to_uri,
            warehouse=to_warehouse,
            properties=dict(source.settings.properties),
        )
    )
    _run(
        IcebergCatalogMigration(source, target, drop_source=drop_source, **_options(options)),
        selectors,
        confirmation,
    )


_SOURCES = {"iceberg": "this catalog", "hive": "the Hive metastore", "glue": "the Glue catalog"}


def _options(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "namespace": options["namespace"],
        "suffix": options["suffix"],
        "validate": not options["no_validate"],
        "principal": None,
    }


def _run(migration: Any, selectors: tuple[str, ...], confirmation: Confirmation) -> None:
    state = current_state()
    if not migration.discover_tables(list(selectors)):
        # as every other selector of the CLI: an empty selection is an error (exit 2)
        listed = " (`phlo-lakehouse tables list` shows them)" if migration.kind == "iceberg" else ""
        raise TableNotFound(
            f"no table matches {' '.join(selectors)!r} in {_SOURCES[migration.kind]}",
            hint=f"a selector is namespace.table or a pattern such as 'raw.*'{listed}",
        )
    mode = confirmation.mode(state, f"migrate {' '.join(selectors)}")
    if mode != APPLY:
        _show(state, migration.run(list(selectors), dry_run=True))
        if mode != CONFIRM:
            click.echo("dry run: nothing changed", err=True)
            return
        ask()
    summary = migration.run(list(selectors))
    _show(state, summary)
    if not summary.ok:
        raise click.exceptions.Exit(1)


def _show(state: Any, summary: Any) -> None:
    if state.json:
        emit_json(summary.to_dict())
    else:
        click.echo(summary.summary())
