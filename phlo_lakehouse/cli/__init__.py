"""The ``phlo-lakehouse`` CLI (also ``phlo lakehouse`` through Phlo's plugin entry point).

Modules: `command` (the `LakehouseCommand` base: catalog options, errors, tables), `params`
(value types), `apply` (the ``--dry-run``/``--yes`` rule and the operation runner), `output`
(tables, JSON, progress), and one module per command group.

Example:
    >>> from click.testing import CliRunner
    >>> from phlo_lakehouse.cli import cli
    >>> CliRunner().invoke(cli, ["--help"]).exit_code
    0
"""

from phlo_lakehouse.cli.command import CliState, LakehouseCommand, LakehouseGroup
from phlo_lakehouse.cli.main import cli, main
from phlo_lakehouse.cli.table_args import with_table

__all__ = ["CliState", "LakehouseCommand", "LakehouseGroup", "cli", "main", "with_table"]
