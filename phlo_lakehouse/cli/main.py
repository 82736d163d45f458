"""The ``phlo-lakehouse`` command group (also ``phlo lakehouse`` through Phlo's plugin).

Catalog options come before the command and override the environment
(``PHLO_LAKEHOUSE_CATALOG_TYPE``, ``PHLO_LAKEHOUSE_CATALOG_URI``, ``PHLO_LAKEHOUSE_WAREHOUSE``,
``PHLO_LAKEHOUSE_HOME``, Phlo's ``NESSIE_*``/``MINIO_*``; see `CatalogSettings.from_env`).

Example:
    $ phlo-lakehouse --home .lakehouse tables list
    $ phlo lakehouse optimize demo.events --dry-run
"""

from __future__ import annotations

from collections.abc import Mapping
from gettext import gettext
from importlib import import_module
from typing import Any

import click

from phlo_lakehouse.cli.command import CliState, LakehouseGroup
from phlo_lakehouse.config import CATALOG_TYPES

PROG_NAME = "phlo-lakehouse"

#: Every command of the group: name -> ("module:attribute", its short help as ``--help`` lists
#: it). A command's module is imported only when that command runs or its own ``--help`` is
#: asked; the group's ``--help`` lists them from here. Adding a command means a row here
#: (phlo_lakehouse_tests/cli/test_lazy_commands.py checks it against the commands themselves).
COMMANDS: dict[str, tuple[str, str]] = {
    "access": (
        "phlo_lakehouse.cli.access:access",
        "Access policies (grant, revoke, check, sync) and the audit log (audit, verify).",
    ),
    "deletes": (
        "phlo_lakehouse.cli.upkeep:deletes",
        "Delete-file upkeep: remove dangling deletes, compact position deletes.",
    ),
    "demo": ("phlo_lakehouse.cli.demo:demo", "Demo data for trying the lakehouse out."),
    "expire": (
        "phlo_lakehouse.cli.maintenance:expire",
        "Expire old snapshots and delete the files only they referenced.",
    ),
    "gc": (
        "phlo_lakehouse.cli.gc:gc",
        "Nessie GC: delete files no live commit of any branch or tag needs.",
    ),
    "manifests": ("phlo_lakehouse.cli.maintenance:manifests", "Manifest maintenance."),
    "migrate": (
        "phlo_lakehouse.cli.migrate:migrate",
        "Migrate Hive, Glue or Iceberg tables into this catalog.",
    ),
    "optimize": (
        "phlo_lakehouse.cli.maintenance:optimize",
        "Compact small data files (binpack, sort or zorder).",
    ),
    "refs": (
        "phlo_lakehouse.cli.refs:refs",
        "Nessie branches and tags: list, create, delete, assign, diff and merge.",
    ),
    "retention": (
        "phlo_lakehouse.cli.upkeep:retention",
        "Delete rows whose COLUMN is older than --older-than.",
    ),
    "schema": (
        "phlo_lakehouse.cli.schema:schema",
        "Schemas: show, diff, export, evolve, check compatibility.",
    ),
    "snapshots": (
        "phlo_lakehouse.cli.snapshots:snapshots",
        "Snapshots of a table: list, roll back, tag and branch.",
    ),
    "statistics": (
        "phlo_lakehouse.cli.upkeep:statistics",
        "Table statistics for query engines (Puffin NDV sketches).",
    ),
    "tables": (
        "phlo_lakehouse.cli.tables:tables",
        "List tables, describe them and show their statistics.",
    ),
    "vacuum": (
        "phlo_lakehouse.cli.maintenance:vacuum",
        "Delete orphan files no metadata references.",
    ),
}


def package_version() -> str:
    """The installed distribution's version ("unknown" in an uninstalled source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("phlo-lakehouse")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


class LazyLakehouseGroup(LakehouseGroup):
    """A `LakehouseGroup` whose commands are imported on first use, from a table of
    ``name -> ("module:attribute", short help)``.

    `list_commands` names them all, `get_command` imports the one asked for, and the group's
    help lists the rest from the table (the same text and truncation click gives the command
    itself). `load_commands` imports them all, for hosts that walk ``commands`` (Phlo).

    Example:
        >>> group = LazyLakehouseGroup(
        ...     "top", lazy_commands={"cmd": ("phlo_lakehouse.cli.demo:demo", "Demo data.")}
        ... )
        >>> group.list_commands(None), sorted(group.commands)
        (['cmd'], [])
        >>> group.get_command(None, "cmd").name, sorted(group.commands)
        ('demo', ['cmd'])
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            module, _, attribute = self.lazy_commands[cmd_name][0].partition(":")
            command = getattr(import_module(module), attribute)
            self.add_command(command, cmd_name)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            if self.lazy_commands.keys() <= self.commands.keys():
                raise
            # Unknown: click's "Did you mean" picks from the commands loaded, so load them all.
            self.load_commands()
            return super().resolve_command(ctx, args)

    def load_commands(self) -> LazyLakehouseGroup:
        """Import every command (``commands`` then holds them all); returns the group."""
        for name in self.lazy_commands:
            self.get_command(None, name)
        return self

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing of the commands, with the short help of those not imported yet
        taken from the table instead of importing them."""
        listed: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:  # a stand-in: click shortens its help as the command's own
                command = click.Command(name, help=self.lazy_commands[name][1])
            if not command.hidden:
                listed.append((name, command))
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)
            with formatter.section(gettext("Commands")):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in listed])


@click.group(cls=LazyLakehouseGroup, name="lakehouse", lazy_commands=COMMANDS)
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


def main() -> None:
    """Run ``phlo-lakehouse`` (the console script)."""
    from phlo_lakehouse.cli.lazy_imports import install

    install()  # this process only: see lazy_imports for what is deferred and why
    cli.main(prog_name=PROG_NAME)
