"""The ``phlo-lakehouse`` command group (also ``phlo lakehouse`` through Phlo's plugin).

Catalog options come before the command and override the environment
(``PHLO_LAKEHOUSE_CATALOG_TYPE``, ``PHLO_LAKEHOUSE_CATALOG_URI``, ``PHLO_LAKEHOUSE_WAREHOUSE``,
``PHLO_LAKEHOUSE_HOME``, Phlo's ``NESSIE_*``/``MINIO_*``; see `CatalogSettings.from_env`).

Example:
    $ phlo-lakehouse --home .lakehouse tables list
    $ phlo lakehouse optimize demo.events --dry-run
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click

from phlo_lakehouse.cli.access import access
from phlo_lakehouse.cli.command import CliState, LakehouseGroup
from phlo_lakehouse.cli.demo import demo
from phlo_lakehouse.cli.gc import gc
from phlo_lakehouse.cli.maintenance import expire, manifests, optimize, vacuum
from phlo_lakehouse.cli.migrate import migrate
from phlo_lakehouse.cli.refs import refs
from phlo_lakehouse.cli.schema import schema
from phlo_lakehouse.cli.snapshots import snapshots
from phlo_lakehouse.cli.tables import tables
from phlo_lakehouse.cli.upkeep import deletes, retention, statistics
from phlo_lakehouse.config import CATALOG_TYPES

PROG_NAME = "phlo-lakehouse"


def package_version() -> str:
    try:
        return version("phlo-lakehouse")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


@click.group(cls=LakehouseGroup, name="lakehouse")
@click.version_option(package_name="phlo-lakehouse", prog_name=PROG_NAME)
@click.option(
    "--catalog-type",
    type=click.Choice(CATALOG_TYPES),
    default=None,
    help="Catalog kind (default: inferred from the uri, else the embedded sql catalog).",
)
@click.option(
    "--catalog-uri",
    default=None,
    metavar="URI",
    help="sqlite:///…, postgresql://…, http://rest:8181, http://nessie:19120 or thrift://…",
)
@click.option("--warehouse", default=None, help="Warehouse location, e.g. s3://bucket/wh.")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="Embedded lakehouse directory (SQLite catalog + local warehouse). Default .lakehouse",
)
@click.option(
    "--create",
    is_flag=True,
    default=False,
    help="Create the embedded lakehouse (--home / sqlite --catalog-uri) if it does not exist; "
    "without it a missing one is an error.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    catalog_type: str | None,
    catalog_uri: str | None,
    warehouse: str | None,
    home: str | None,
    create: bool,
) -> None:
    """Inspect and maintain Iceberg tables: list, describe and stats; optimize, expire,
    vacuum and rewrite manifests.

    Commands that change anything show their plan and change nothing unless --yes is given
    (or, at a terminal, you confirm); --dry-run only previews.
    """
    state = ctx.ensure_object(CliState)
    state.catalog_options = {
        "catalog_type": catalog_type,
        "catalog_uri": catalog_uri,
        "warehouse": warehouse,
        "home": home,
    }
    state.create = state.create or create


for _command in (
    tables,
    optimize,
    expire,
    vacuum,
    manifests,
    snapshots,
    schema,
    refs,
    access,
    migrate,
    demo,
    deletes,
    statistics,
    retention,
    gc,
):
    cli.add_command(_command)


def main() -> None:
    """Run ``phlo-lakehouse`` (the console script)."""
    from phlo_lakehouse.cli.lazy_imports import install

    install()  # this process only: see lazy_imports for what is deferred and why
    cli.main(prog_name=PROG_NAME)
