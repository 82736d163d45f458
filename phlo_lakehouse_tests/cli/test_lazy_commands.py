"""The group's commands are imported on first use from `COMMANDS`, which must say what the
commands themselves say: the table names every top-level command of the CLI modules, each
entry's short help is the command's own, and the group's help reads the same as with every
command loaded."""

from __future__ import annotations

import importlib
import pkgutil

import click
import pytest
from click.testing import CliRunner

import phlo_lakehouse.cli
from phlo_lakehouse.cli.main import COMMANDS, LazyLakehouseGroup, cli


def _fresh_group() -> LazyLakehouseGroup:
    """A group like `cli` with nothing imported yet (`cli` itself may have loaded commands)."""
    return LazyLakehouseGroup(
        name=cli.name,
        params=list(cli.params),
        callback=cli.callback,
        help=cli.help,
        lazy_commands=COMMANDS,
    )


def _top_level_commands() -> dict[str, click.Command]:
    """Every command defined at module level in phlo_lakehouse.cli that is no group's child."""
    found: dict[int, click.Command] = {}
    for module in pkgutil.iter_modules(phlo_lakehouse.cli.__path__):
        if module.name == "phlo_plugin":
            continue  # needs phlo; holds no command
        namespace = vars(importlib.import_module(f"phlo_lakehouse.cli.{module.name}"))
        found.update({id(v): v for v in namespace.values() if isinstance(v, click.Command)})
    found.pop(id(cli))  # (whose ``commands`` holds those loaded so far)
    children = {
        id(child)
        for command in found.values()
        if isinstance(command, click.Group)
        for child in command.commands.values()
    }
    top = [c for key, c in found.items() if key not in children]
    return {c.name: c for c in top if c.name is not None}


def test_the_table_names_every_command_and_its_own_short_help():
    commands = _top_level_commands()
    assert sorted(commands) == sorted(COMMANDS)
    for name, (target, short_help) in COMMANDS.items():
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert command is commands[name]
        assert command.name == name and not command.hidden
        assert command.get_short_help_str(limit=10_000) == short_help, name


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_the_group_help_reads_the_same_before_and_after_the_commands_load(width):
    def help_text(group: click.Group) -> str:
        context = click.Context(group, info_name="phlo-lakehouse", terminal_width=width)
        context.max_content_width = width
        return group.get_help(context)

    lazy = _fresh_group()
    before = help_text(lazy)
    assert lazy.commands == {}  # listing them imported none
    assert before == help_text(lazy.load_commands())
    assert set(lazy.commands) == set(COMMANDS)
    for name in COMMANDS:
        assert f"\n  {name} " in before


def test_a_command_is_imported_when_it_runs_or_its_help_is_asked():
    group = _fresh_group()
    result = CliRunner().invoke(group, ["vacuum", "--help"])
    assert result.exit_code == 0, result.output
    assert "Delete orphan files no metadata references." in result.output
    assert sorted(group.commands) == ["vacuum"]


def test_an_unknown_command_still_gets_the_close_names_of_commands_not_loaded_yet():
    result = CliRunner().invoke(_fresh_group(), ["vacum", "demo.events"])
    assert result.exit_code == 2
    assert "No such command 'vacum'. Did you mean 'vacuum'?" in result.output
