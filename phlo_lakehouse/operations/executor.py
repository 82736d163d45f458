"""The single execution path every operation runs through (Python API, CLI and Dagster alike).

In order: resolve the target (a table at a ref, or a catalog reference) → hooks ``before_plan``
(access checks) → plan → (unless dry run) execute, re-planning when the commit conflicts → hooks
``after`` (audit, metrics) → result. Hooks also see failures (``on_error``), so a denied or failed
operation leaves a trace too. `TableOperation`s run with `OperationExecutor.run`,
`CatalogOperation`s (Nessie references, write-audit-publish, GC, migration) with
`OperationExecutor.run_catalog`; both share every step.

Example:
    >>> from phlo_lakehouse.operations import OperationExecutor, VacuumOperation
    >>> executor = OperationExecutor(lakehouse)                            # doctest: +SKIP
    >>> executor.run(VacuumOperation(older_than="3d"), "demo.events").figures  # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from phlo_lakehouse.errors import Conflict, LakehouseError, OperationFailed
from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier, validate_ref_name
from phlo_lakehouse.operations.base import (
    AnyOperation,
    CatalogOperation,
    CatalogSource,
    CatalogTarget,
    OperationPlan,
    OperationResult,
    TableOperation,
)

if TYPE_CHECKING:
    from phlo_lakehouse.operations.base import Engine
    from phlo_lakehouse.table import LakehouseTable

PRINCIPAL_ENV = "PHLO_LAKEHOUSE_PRINCIPAL"


@dataclass
class OperationContext:
    """What hooks see about one run of one operation.

    For a `TableOperation`, ``identifier`` is the table and ``table`` its loaded handle. For a
    `CatalogOperation`, ``target`` is set; ``identifier`` is the operation's `subject` (the
    table a migration creates) or None. Hooks should name what was acted on with `subject`
    and check access on `resource`, which cover both kinds.
    """

    operation: AnyOperation
    identifier: TableIdentifier | None
    ref: str | None
    dry_run: bool
    principal: str
    catalog: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    engine: str = "local"
    table: LakehouseTable | None = None
    target: CatalogTarget | None = None
    plan: OperationPlan | None = None
    result: OperationResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: Scratch space hooks share (e.g. the access decision the audit record reports).
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def catalog_level(self) -> bool:
        """True for a `CatalogOperation` run."""
        return isinstance(self.operation, CatalogOperation)

    @property
    def subject(self) -> str:
        """What the run acts on, for messages and metrics: ``raw.events``, ``lakehouse@dev``."""
        if self.identifier is not None:
            return str(self.identifier)
        return f"{self.catalog}@{self.ref}" if self.ref else self.catalog

    @property
    def resource(self) -> str:
        """The access-control resource: ``<catalog>.<namespace>.<table>`` for a table,
        ``<catalog>@<ref>`` for a reference, ``<catalog>`` for the whole catalog."""
        if self.identifier is not None:
            return f"{self.catalog}.{self.identifier}"
        return self.subject


class ExecutionHook(Protocol):
    """A plug-in point of the executor: access control, tracing and audit implement it."""

    def before_plan(self, context: OperationContext) -> None:
        """Called after the target is resolved and before planning; raise to stop the run."""

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
    """Runs operations against a lakehouse with hooks and conflict re-planning.

    Args:
        lakehouse: where tables and references are resolved.
        hooks: called around every run, in order (``after``/``on_error`` in reverse order).
        max_attempts: at most this many commit attempts per run (default: the table's
            ``commit.retry.num-retries`` + 1, Iceberg's default 5).
        engine: where `TableOperation` plans are carried out (None: in this process).
    """

    def __init__(
        self,
        lakehouse: CatalogSource,
        hooks: Sequence[ExecutionHook] = (),
        *,
        max_attempts: int | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.lakehouse = lakehouse
        self.hooks = list(hooks)
        self.max_attempts = None if max_attempts is None else max(1, max_attempts)
        self.engine = engine

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
        context = self._context(operation, parse_table_identifier(table), ref, dry_run, principal)
        context.engine = self.engine.name if self.engine is not None else "local"

        def resolve() -> None:
            context.table = self.lakehouse.get_table(context.identifier, ref)  # type: ignore[arg-type]
            context.ref = context.table.ref

        def plan() -> OperationPlan:
            assert context.table is not None
            return operation.plan(context.table)

        def execute(attempt: int) -> OperationResult:
            assert context.table is not None and context.plan is not None
            if self.engine is None:
                return operation.execute(context.table, context.plan)
            return self.engine.execute(operation, context.table, context.plan)

        def refresh() -> None:
            assert context.table is not None
            context.table = context.table.refresh()

        return self._run(context, resolve, plan, execute, refresh)

    def run_catalog(
        self,
        operation: CatalogOperation,
        ref: str | None = None,
        *,
        dry_run: bool = False,
        principal: str | None = None,
    ) -> OperationResult:
        """Run a catalog-level ``operation`` on reference ``ref`` (None: the whole catalog).

        Example:
            >>> executor.run_catalog(MergeReference("dev"), "main", dry_run=True)  # doctest: +SKIP

        Raises:
            LakehouseError: bad input, not found, access denied, conflict after all attempts.
        """
        context = self._context(operation, None, ref, dry_run, principal)

        def resolve() -> None:
            context.target = CatalogTarget(
                self.lakehouse, validate_ref_name(ref) if ref is not None else None
            )
            context.identifier = operation.subject(context.target)

        def plan() -> OperationPlan:
            assert context.target is not None
            return operation.plan(context.target)

        def execute(attempt: int) -> OperationResult:
            assert context.target is not None and context.plan is not None
            return operation.execute(context.target, context.plan)

        return self._run(context, resolve, plan, execute, lambda: None)

    def _context(
        self,
        operation: AnyOperation,
        identifier: TableIdentifier | None,
        ref: str | None,
        dry_run: bool,
        principal: str | None,
    ) -> OperationContext:
        return OperationContext(
            operation=operation,
            identifier=identifier,
            ref=ref,
            dry_run=dry_run,
            principal=resolve_principal(principal),
            catalog=getattr(getattr(self.lakehouse, "settings", None), "name", "lakehouse"),
        )

    def _run(
        self,
        context: OperationContext,
        resolve: Callable[[], None],
        plan: Callable[[], OperationPlan],
        execute: Callable[[int], OperationResult],
        refresh: Callable[[], None],
    ) -> OperationResult:
        operation = context.operation
        started = time.perf_counter()
        try:
            resolve()
            for hook in self.hooks:
                hook.before_plan(context)
            if context.dry_run or not operation.mutates:
                context.plan = self._timed(context, "plan", plan)
                result = OperationResult.from_plan(context.plan)
            else:
                result = self._plan_and_execute(context, plan, execute, refresh)
            context.result = replace(result, duration_seconds=time.perf_counter() - started)
        except BaseException as error:
            for hook in reversed(self.hooks):
                hook.on_error(context, error)
            if isinstance(error, LakehouseError | KeyboardInterrupt | SystemExit):
                raise
            if isinstance(error, Exception):
                raise OperationFailed(
                    f"{operation.name} of {context.subject} failed: "
                    f"{type(error).__name__}: {_first_line(error)}",
                    hint="the table is unchanged unless the result says otherwise; "
                    "re-run with --debug for the traceback",
                ) from error
            raise
        for hook in reversed(self.hooks):
            hook.after(context)
        return context.result

    def _plan_and_execute(
        self,
        context: OperationContext,
        plan: Callable[[], OperationPlan],
        execute: Callable[[int], OperationResult],
        refresh: Callable[[], None],
    ) -> OperationResult:
        """Plan and execute; on a retryable conflict wait as ``commit.retry.*`` says and re-plan
        on the refreshed table. Every commit attempt of the run (producers retry too) counts
        against one budget, so attempts never multiply and never follow without a wait."""
        from phlo_lakehouse.retry import RetryPolicy, commit_budget

        operation = context.operation
        properties = context.table.table.properties if context.table is not None else {}
        policy = RetryPolicy.for_commits(properties)
        if self.max_attempts is not None:
            policy = replace(policy, num_retries=min(policy.num_retries, self.max_attempts - 1))
        what = "the table" if not context.catalog_level else context.subject
        with commit_budget(policy) as budget:
            while True:
                context.plan = self._timed(context, "plan", plan)
                counted = budget.attempts
                try:
                    result = self._timed(context, "execute", execute, counted + 1)
                except Conflict as conflict:
                    if not conflict.retryable:
                        raise
                    if budget.attempts == counted:
                        budget.count()  # refused before any commit was sent (e.g. refs moved)
                    try:
                        budget.retry_after(conflict)
                    except Conflict:
                        raise Conflict(
                            f"{operation.name} of {context.subject} conflicted "
                            f"{budget.attempts} times: {conflict.message}",
                            hint=f"{what} is being changed concurrently; retry later, narrow "
                            "the selection, or raise commit.retry.num-retries",
                        ) from conflict
                    refresh()
                    continue
                if budget.attempts == counted:
                    budget.count()  # an execution that committed without commit_updates
                context.extras["commit_waits"] = list(budget.waits)
                return replace(result, attempts=max(1, budget.attempts, result.attempts))

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
