"""`LakehouseCommand`, the base of every ``phlo-lakehouse`` command, and its shared options.

Every command gets the same behaviour from here:

- **Catalog access** from the group's ``--catalog-type``, ``--catalog-uri``, ``--warehouse`` and
  ``--home`` options laid over the environment (`CatalogSettings.from_env`), opened on first use.
- **Output**: ``--format table|json``; JSON is one document on stdout (alias ``--json``).
- **Errors**: a `LakehouseError` prints ``error: <message>`` and ``hint: <hint>`` on stderr and
  exits with its ``exit_code`` (2 for invalid input and not found, 1 for a failed operation);
  any other exception prints one ``error:`` line and exits 1. ``--debug`` adds the traceback.
  Click usage errors print the same two-line form and exit 2.
- **Tables**: `phlo_lakehouse.cli.table_args.with_table` parses ``TABLE`` and ``--ref`` and loads
  the table (or every table a selector matches): unknown tables and refs fail before it runs.

Example:
    >>> import click
    >>> @click.command(cls=LakehouseCommand)
    ... def show():
    ...     click.echo("shown")
    >>> sorted(p.name for p in show.params)
    ['debug', 'json', 'output_format']
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import click

from phlo_lakehouse.cli.library_logs import quiet_library_logs
from phlo_lakehouse.errors import LakehouseError
from phlo_lakehouse.vocabulary import speaking

if TYPE_CHECKING:
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.hooks import HookSettings
    from phlo_lakehouse.lakehouse import IcebergLakehouse

FORMATS = ("table", "json")
_ENV_OPTIONS = {
    "catalog_type": "PHLO_LAKEHOUSE_CATALOG_TYPE",
    "catalog_uri": "PHLO_LAKEHOUSE_CATALOG_URI",
    "warehouse": "PHLO_LAKEHOUSE_WAREHOUSE",
    "home": "PHLO_LAKEHOUSE_HOME",
}


@dataclass
class CliState:
    """What one invocation knows: catalog options, output format, debug and the lakehouse.

    Attributes:
        catalog_options: ``--catalog-type``/``--catalog-uri``/``--warehouse``/``--home`` values.
        format: "table" or "json".
        debug: print tracebacks with errors.
        env: the environment the settings are read from (default: ``os.environ``).
        json_flag: ``--json`` was given (Phlo then wraps the output in its envelope).
        create: an embedded catalog that does not exist yet may be created (``--create``,
            ``demo seed``); otherwise a missing one is `CatalogMissing`.
        emitted_json: the invocation has printed its JSON document (e.g. results whose
            deletions partly failed): an error after it goes to stderr only, so stdout stays
            one document.

    Example:
        >>> CliState(catalog_options={"home": "/tmp/lh"}).settings().uri
        'sqlite:////tmp/lh/catalog.db'
    """

    catalog_options: dict[str, str | None] = field(default_factory=dict)
    format: str = "table"
    debug: bool = False
    env: Mapping[str, str] | None = None
    json_flag: bool = False
    create: bool = False
    emitted_json: bool = False
    _lakehouse: IcebergLakehouse | None = None

    def settings(self) -> CatalogSettings:
        """Catalog settings: the options laid over the environment.

        ``--home`` alone means the embedded SQLite catalog under that directory, whatever
        catalog the environment names.

        Raises:
            InvalidConfig: the combination does not describe a catalog.
        """
        from phlo_lakehouse.config import CatalogSettings

        env = dict(os.environ if self.env is None else self.env)
        given = {k: v for k, v in self.catalog_options.items() if v}
        if "home" in given and not {"catalog_type", "catalog_uri"} & given.keys():
            env.pop(_ENV_OPTIONS["catalog_uri"], None)
            env.pop(_ENV_OPTIONS["warehouse"], None)
            env[_ENV_OPTIONS["catalog_type"]] = "sql"
        env.update({_ENV_OPTIONS[k]: v for k, v in given.items()})
        return CatalogSettings.from_env(env)

    @property
    def lakehouse(self) -> IcebergLakehouse:
        """The lakehouse, built on first use (no connection until a command needs one)."""
        if self._lakehouse is None:
            from phlo_lakehouse.hooks import build_hooks
            from phlo_lakehouse.lakehouse import IcebergLakehouse

            settings = self.settings()
            if not self.create:
                from phlo_lakehouse.cli.catalog_presence import require_existing_catalog

                require_existing_catalog(settings)
            lakehouse = IcebergLakehouse(settings)
            lakehouse.hooks = build_hooks(self.hook_settings(), lakehouse)
            self._lakehouse = lakehouse
        return self._lakehouse

    def hook_settings(self) -> HookSettings:
        """Hook settings from the environment (``--home`` decides where the default access store
        lives); mounted in Phlo's CLI (``phlo lakehouse``), the Phlo hooks too."""
        from phlo_lakehouse.hooks import HookSettings

        settings = HookSettings.from_env(self.environment(), self.catalog_options.get("home"))
        context = click.get_current_context(silent=True)
        if context is not None and context.find_root().command.name != "lakehouse":
            settings = replace(settings, phlo=True)
        return settings

    def environment(self) -> dict[str, str]:
        """The environment settings are read from."""
        return dict(os.environ if self.env is None else self.env)

    @property
    def json(self) -> bool:
        """True when output is JSON (``--format json``, ``--json`` or ``phlo --json``)."""
        ctx = click.get_current_context(silent=True)
        return self.format == "json" or bool(ctx and ctx.meta.get("phlo_json"))

    @property
    def interactive(self) -> bool:
        """True when a person can answer a prompt: stdin is a terminal, the output is a table
        and ``phlo --non-interactive`` was not given."""
        ctx = click.get_current_context(silent=True)
        if ctx is not None and ctx.meta.get("phlo_non_interactive"):
            return False
        return not self.json and _isatty(sys.stdin)

    @property
    def show_progress(self) -> bool:
        """True when progress bars are drawn: table output and stderr is a terminal."""
        return not self.json and _isatty(sys.stderr)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def current_state() -> CliState:
    """The `CliState` of the running invocation (created when a command runs on its own)."""
    return click.get_current_context().ensure_object(CliState)


# -- the command classes ---------------------------------------------------------------------


class _OneLineUsageError(click.UsageError):
    """A click usage error shown as ``error:``/``hint:`` lines, like every other error."""

    hint: str | None = None

    def show(self, file: Any = None) -> None:
        command = self.ctx.command_path if self.ctx is not None else "phlo-lakehouse"
        click.echo(f"error: {self.format_message()}", err=True)
        click.echo(f"hint: {self.hint or f'see `{command} --help`'}", err=True)


def _one_line_usage(error: click.UsageError) -> _OneLineUsageError:
    # The exit code is click's class-level UsageError.exit_code (2), inherited.
    converted = _OneLineUsageError(error.format_message(), error.ctx)
    converted.hint = getattr(error, "hint", None)
    return converted


def _set_format(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(CliState).format = value


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        state = ctx.ensure_object(CliState)
        state.format = "json"
        state.json_flag = True


def _phlo_captures_json(ctx: click.Context) -> bool:
    """True when Phlo's CLI wraps our stdout in its JSON envelope (``phlo … --json``)."""
    if ctx.meta.get("phlo_json"):
        return True
    state = ctx.find_object(CliState)
    root = type(ctx.find_root().command)
    return bool(state and state.json_flag) and root.__module__.startswith("phlo.")


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliState).debug = True


def common_options() -> list[click.Option]:
    """``--format``, ``--json`` (hidden alias) and ``--debug``, as every command takes them."""
    return [
        click.Option(
            ["--format", "output_format"],
            type=click.Choice(FORMATS),
            default=None,
            expose_value=False,
            callback=_set_format,
            help="Output format (default: table). json prints one JSON document.",
        ),
        click.Option(
            ["--json"],
            is_flag=True,
            hidden=True,
            expose_value=False,
            callback=_set_json,
            help="Same as --format json.",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=_set_debug,
            help="Show tracebacks with errors.",
        ),
    ]


class _LakehouseCommandBase(click.Command):
    """What commands and groups share: the common options, usage errors on one line, and
    errors reported in the CLI's vocabulary (a group that runs on its own, with
    invoke_without_command, reports them as commands do; its subcommands report their own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = {p.name for p in self.params}
        self.params.extend(o for o in common_options() if o.name not in names)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            with speaking("cli"):
                return super().make_context(*args, **kwargs)
        except click.UsageError as error:
            raise _one_line_usage(error) from error

    def invoke(self, ctx: click.Context) -> Any:
        return _reporting_errors(super().invoke, ctx)


class LakehouseCommand(_LakehouseCommandBase):
    """A click command with the lakehouse's output options and error rendering.

    Errors raised by the callback never escape as tracebacks: `LakehouseError` prints its
    message and hint and exits with its ``exit_code``; anything else prints one line and exits 1
    (with ``--debug``, the traceback comes first).

    Example:
        >>> @click.command(cls=LakehouseCommand)
        ... def hello():
        ...     click.echo("hi")
        >>> [p.name for p in hello.params]
        ['output_format', 'json', 'debug']
    """


def _reporting_errors(invoke: Callable[[click.Context], Any], ctx: click.Context) -> Any:
    """``invoke(ctx)``, its errors printed as one line (and a hint) with the right exit code;
    without ``--debug``, libraries that log tracebacks themselves (thrift) are silenced."""
    state = ctx.find_object(CliState)
    try:
        with speaking("cli"), quiet_library_logs(not (state is not None and state.debug)):
            return invoke(ctx)
    except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except LakehouseError as error:
        report_error(error, ctx)
        ctx.exit(error.exit_code)
    except Exception as error:  # noqa: BLE001 - the CLI boundary: one line, no traceback
        report_error(error, ctx)
        ctx.exit(1)


class LakehouseGroup(_LakehouseCommandBase, click.Group):
    """A click group whose subcommands are `LakehouseCommand`s and subgroups `LakehouseGroup`s.

    Example:
        >>> @click.group(cls=LakehouseGroup)
        ... def top():
        ...     pass
        >>> @top.command()
        ... def leaf():
        ...     pass
        >>> isinstance(leaf, LakehouseCommand)
        True
    """

    command_class = LakehouseCommand
    group_class = type

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise _one_line_usage(error) from error


def error_document(error: BaseException) -> dict[str, Any]:
    """``{"error": {type, message, hint, exit_code}}`` as ``--format json`` reports an error.

    Example:
        >>> from phlo_lakehouse.errors import TableNotFound
        >>> error_document(TableNotFound("table a.b does not exist"))["error"]["exit_code"]
        2
    """
    if isinstance(error, LakehouseError):
        (message, hint), code = error.spelled_for("cli"), error.exit_code
    else:
        text = str(error).strip().splitlines()
        message = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
        hint, code = "re-run with --debug for the traceback", 1
    return {
        "error": {"type": type(error).__name__, "message": message, "hint": hint, "exit_code": code}
    }


def report_error(error: BaseException, ctx: click.Context | None = None) -> None:
    """Print ``error``: the traceback only with ``--debug``; a JSON document too in JSON mode.

    Example:
        >>> from phlo_lakehouse.errors import TableNotFound
        >>> report_error(TableNotFound("table a.b does not exist", hint="list tables"))
        ... # doctest: +SKIP
    """
    state = ctx.find_object(CliState) if ctx is not None else None
    if state is not None and state.debug:
        traceback.print_exception(error, file=sys.stderr)
    reported = error_document(error)["error"]
    message, hint, code = reported["message"], reported["hint"], reported["exit_code"]
    if state is not None and state.emitted_json:
        pass  # stdout already holds the document, this error in it
    elif ctx is not None and _phlo_captures_json(ctx):
        # `phlo --json` adopts a document in its own envelope shape as the payload.
        from phlo_lakehouse.cli.output import emit_json

        emit_json(
            {
                "data": None,
                "errors": [message],
                "warnings": [],
                "status": "error",
                "reason_code": "invalid_arguments" if code == 2 else "operation_failed",
                "next_steps": [hint] if hint else [],
            }
        )
    elif state is not None and state.json:
        from phlo_lakehouse.cli.output import emit_json

        emit_json(error_document(error))
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
