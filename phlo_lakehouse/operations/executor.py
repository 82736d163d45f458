"""The single execution path every operation runs through (Python API, CLI and Dagster alike).

In order: resolve the table and ref → hooks ``before_plan`` (access checks) → plan → (unless dry
run) execute, re-planning on a refreshed table when the commit conflicts → hooks ``after`` (audit,
metrics) → result. Hooks also see failures (``on_error``), so a denied or failed operation leaves
a trace too.

Example:
    >>> from phlo_lakehouse.operations import OperationExecutor, VacuumOperation
    >>> executor = OperationExecutor(lakehouse)                            # doctest: +SKIP
    >>> executor.run(VacuumOperation(older_than="3d"), "demo.events").figures  # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from phlo_lakehouse.errors import Conflict, LakehouseError, OperationFailed
from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier

if TYPE_CHECKING:
    from phlo_lakehouse.engines.base import Engine
    from phlo_lakehouse.lakehouse import LakehouseResource
    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

PRINCIPAL_ENV = "PHLO_LAKEHOUSE_PRINCIPAL"


@dataclass
class OperationContext:
    """What hooks see about one run of one operation on one table."""

    operation: TableOperation
    identifier: TableIdentifier
    ref: str | None
    dry_run: bool
    principal: str
    catalog: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    engine: str = "local"
    table: LakehouseTable | None = None
    plan: OperationPlan | None = None
    result: OperationResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: Scratch space hooks share (e.g. the access decision the audit record reports).
    extras: dict[str, Any] = field(default_factory=dict)


class ExecutionHook(Protocol):
    """A plug-in point of the executor: access control, tracing and audit implement it."""

    def before_plan(self, context: OperationContext) -> None:
        """Called after the table is resolved and before planning; raise to stop the run."""

    def after(self, context: OperationContext) -> None:
        """Called with ``context.result`` set once the run succeeded."""

    def on_error(self, context: OperationContext, error: BaseException) -> None:
        """Called when the run failed (including denied access) before the error propagates."""


def resolve_principal(explicit: str | None = None) -> str:
    """Who is acting: explicit argument, then ``PHLO_LAKEHOUSE_PRINCIPAL``, then the OS user.

    (The Dagster layer passes the run tag ``phlo/principal`` as the explicit argument.)
    """
    if explicit:
        return explicit
    return os.environ.get(PRINCIPAL_ENV) or getpass.getuser()


class OperationExecutor:
    """Runs `TableOperation`s against a lakehouse with hooks and conflict re-planning.

    Args:
        lakehouse: where tables are resolved.
        hooks: called around every run, in order (``after``/``on_error`` in reverse order).
        max_attempts: plan+execute attempts when the commit conflicts (at least 1).
    """

    def __init__(
        self,
        lakehouse: LakehouseResource,
        hooks: Sequence[ExecutionHook] = (),
        *,
        max_attempts: int = 4,
        engine: Engine | None = None,
    ) -> None:
        from phlo_lakehouse.engines.base import LocalEngine

        self.lakehouse = lakehouse
        self.hooks = list(hooks)
        self.max_attempts = max(1, max_attempts)
        self.engine = engine or LocalEngine()

    def run(
        self,
        operation: TableOperation,
        table: str | TableIdentifier,
        ref: str | None = None,
        *,
        dry_run: bool = False,
        principal: str | None = None,
    ) -> OperationResult:
        """Run ``operation`` on ``table`` at ``ref``; a dry run only plans.

        Raises:
            LakehouseError: bad input, not found, access denied, conflict after all attempts.
        """
        from phlo_lakehouse.operations.base import OperationResult

        context = OperationContext(
            operation=operation,
            identifier=parse_table_identifier(table),
            ref=ref,
            dry_run=dry_run,
            principal=resolve_principal(principal),
            catalog=getattr(getattr(self.lakehouse, "settings", None), "name", "lakehouse"),
            engine=self.engine.name,
        )
        started = time.perf_counter()
        try:
            context.table = self.lakehouse.get_table(context.identifier, ref)
            context.ref = context.table.ref
            for hook in self.hooks:
                hook.before_plan(context)
            if dry_run or not operation.mutates:
                context.plan = self._timed(context, "plan", operation.plan, context.table)
                result = OperationResult.from_plan(context.plan)
            else:
                result = self._plan_and_execute(context)
            context.result = replace(result, duration_seconds=time.perf_counter() - started)
        except BaseException as error:
            for hook in reversed(self.hooks):
                hook.on_error(context, error)
            if isinstance(error, LakehouseError | KeyboardInterrupt | SystemExit):
                raise
            if isinstance(error, Exception):
                raise OperationFailed(
                    f"{operation.name} of {context.identifier} failed: "
                    f"{type(error).__name__}: {_first_line(error)}",
                    hint="the table is unchanged unless the result says otherwise; "
                    "re-run with --debug for the traceback",
                ) from error
            raise
        for hook in reversed(self.hooks):
            hook.after(context)
        return context.result

    def _plan_and_execute(self, context: OperationContext) -> OperationResult:
        assert context.table is not None
        operation = context.operation
        last_conflict: Conflict | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                context.table = context.table.refresh()
            context.plan = self._timed(context, "plan", operation.plan, context.table)
            try:
                result = self._timed(
                    context, "execute", self.engine.execute, operation, context.table, context.plan
                )
            except Conflict as conflict:
                last_conflict = conflict
                continue
            return replace(result, attempts=attempt + result.attempts - 1)
        assert last_conflict is not None
        raise Conflict(
            f"{operation.name} of {context.identifier} conflicted {self.max_attempts} times: "
            f"{last_conflict.message}",
            hint="the table is being changed concurrently; retry later or narrow the selection",
        ) from last_conflict

    @staticmethod
    def _timed(context: OperationContext, phase: str, fn: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            context.timings[phase] = context.timings.get(phase, 0.0) + time.perf_counter() - started


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0][:200] if text else ""
