"""`LakehouseCliPlugin`: adds ``phlo lakehouse …`` to Phlo's CLI through the
``phlo.plugins.cli`` entry point.

Phlo loads this module only when it discovers CLI plugins, so Phlo is imported here and nowhere
else in the CLI; the commands themselves are the ``phlo-lakehouse`` group.

Example:
    >>> [c.name for c in LakehouseCliPlugin().get_cli_commands()]
    ['lakehouse']
"""

from __future__ import annotations

import click
from phlo.plugins.base.cli import CliCommandPlugin
from phlo.plugins.base.plugin import PluginMetadata


class LakehouseCliPlugin(CliCommandPlugin):
    """The ``lakehouse`` command group as a Phlo CLI plugin.

    Example:
        >>> LakehouseCliPlugin().metadata.name
        'lakehouse'
    """

    @property
    def metadata(self) -> PluginMetadata:
        """Name, version and description shown by ``phlo plugin`` commands."""
        from phlo_lakehouse.cli.main import package_version

        return PluginMetadata(
            name="lakehouse",
            version=package_version(),
            description="Iceberg table maintenance, stats, snapshots, schema and refs",
            license="Apache-2.0",
            tags=["iceberg", "lakehouse", "maintenance"],
        )

    def get_cli_commands(self) -> list[click.Command]:
        """The ``lakehouse`` group, every command imported: Phlo adapts a plugin's commands
        by walking the group's ``commands`` when it adds it (the ``phlo-lakehouse`` script
        imports a command only when it runs)."""
        from phlo_lakehouse.cli.main import cli

        return [cli.load_commands()]
