"""Write-audit-publish: write a run's changes on a branch, audit them there, publish to ``main``
only when every audit passes.

- **Nessie** catalogs: one catalog-wide Nessie branch for the run; publishing is a Nessie merge,
  atomic over every table the run wrote (a conflict publishes nothing).
- **Other catalogs**: an Iceberg branch in each listed table (created through
  `SnapshotManager.create_branch`, i.e. the executor); writes use ``append(branch=…)`` and keep
  the branch's retention; publishing fast-forwards each table's ``main`` to its branch head
  (one commit per table: every table is checked first, so a moved ``main`` publishes nothing).

Every step that changes a reference runs through the lakehouse's executor (access check, audit,
metrics): publishing is the ``wap_publish`` operation (`PublishOperation`, permission ``publish``
on ``<catalog>@<onto>``), so a principal without it publishes nothing.

A failed audit (returned False or raised) leaves ``main`` untouched and is reported by name in
`WapResult.failed_audits` and in the raised `AuditFailed`. The branch is deleted per
``cleanup``: ``"on_success"`` (default: kept after a failure for inspection), ``"always"`` or
``"never"``.

Example:
    >>> def no_null_ids(run):
    ...     return run.read("raw.events").column("event_id").null_count == 0
    >>> wap = WriteAuditPublish(lakehouse, ["raw.events"], audits=[no_null_ids])  # doctest: +SKIP
    >>> with wap as run:                                                      # doctest: +SKIP
    ...     run.append("raw.events", batch)
    >>> run.result.published                                                  # doctest: +SKIP
    True
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import AuditFailed, InvalidInput, LakehouseError
from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier, validate_ref_name

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.operations.base import CatalogOperation, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

Audit = Callable[["WriteAuditPublish"], "bool | None"]
CLEANUP_MODES = ("on_success", "always", "never")


@dataclass(frozen=True)
class AuditOutcome:
    """One audit's verdict: its name, whether it passed, and why not."""

    name: str
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class WapResult:
    """What a write-audit-publish run did.

    Attributes:
        branch: the audit branch.
        onto: the branch published to.
        published: True when ``onto`` now holds the run's writes.
        audits: each audit's outcome, in order.
        tables: the tables the run was declared for (Nessie: those it wrote, if undeclared).
        branch_deleted: True when the audit branch was removed.
        details: the Nessie merge hashes, or per table the snapshot ``main`` moved to.
    """

    branch: str
    onto: str
    published: bool
    audits: tuple[AuditOutcome, ...]
    tables: tuple[str, ...]
    branch_deleted: bool
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed_audits(self) -> tuple[str, ...]:
        """Names of the audits that failed."""
        return tuple(a.name for a in self.audits if not a.passed)


class WriteAuditPublish:
    """A write-audit-publish run over a lakehouse (a context manager, or call the steps).

    Args:
        lakehouse: where the tables are.
        tables: tables the run writes (required on non-Nessie catalogs, where each gets a
            branch; must have a snapshot already).
        audits: callables taking this run (read with `read`) and returning False (or raising)
            to fail; their ``__name__`` names them in the result.
        branch: the audit branch name (default ``wap-<random>``).
        onto: the branch to publish to.
        cleanup: "on_success", "always" or "never" — when to delete the audit branch.
        raise_on_failure: raise `AuditFailed` from `publish` (and the ``with`` block) when an
            audit fails; the result is in `result` either way.
        principal: who runs it (default: as the executor resolves it). Every step that changes
            a reference runs through the lakehouse's executor: on Nessie creating and deleting
            the audit branch (``ref_create``/``ref_delete``, permission ``manage_refs`` on
            ``<catalog>@<branch>``), on Iceberg refs each table's branch (``create_ref``/
            ``remove_ref``, ``manage_snapshots`` on the table); publishing is ``wap_publish``
            (permission ``publish`` on ``<catalog>@<onto>``, `PublishOperation`).

    Example:
        >>> run = WriteAuditPublish(lakehouse, ["raw.events"], audits=[check])  # doctest: +SKIP
        >>> run.start().append("raw.events", batch)            # doctest: +SKIP
        >>> run.publish(raise_on_failure=False).failed_audits  # doctest: +SKIP
        ()
    """

    def __init__(
        self,
        lakehouse: IcebergLakehouse,
        tables: Sequence[str | TableIdentifier] = (),
        *,
        audits: Sequence[Audit] = (),
        branch: str | None = None,
        onto: str = "main",
        cleanup: str = "on_success",
        raise_on_failure: bool = True,
        principal: str | None = None,
    ) -> None:
        if cleanup not in CLEANUP_MODES:
            raise InvalidInput(
                f"cleanup={cleanup!r} is not a cleanup mode", hint=f"use one of {CLEANUP_MODES}"
            )
        if not all(callable(a) for a in audits):
            raise InvalidInput("audits must be callables", hint="pass functions taking the run")
        self.lakehouse = lakehouse
        self.tables = [parse_table_identifier(t) for t in tables]
        if not self.tables and not lakehouse.is_nessie:
            raise InvalidInput(
                "write-audit-publish on Iceberg table refs needs the tables up front",
                hint="pass tables=[...] (each gets its own audit branch)",
            )
        self.audits = list(audits)
        self.branch = validate_ref_name(branch or f"wap-{uuid.uuid4().hex[:12]}")
        self.onto = validate_ref_name(onto)
        self.cleanup = cleanup
        self.raise_on_failure = raise_on_failure
        self.principal = principal
        self.result: WapResult | None = None
        self._written: set[TableIdentifier] = set()
        self._started = False

    # -- steps ---------------------------------------------------------------------------------

    def start(self) -> WriteAuditPublish:
        """Create the audit branch (Nessie) or each table's branch (Iceberg refs)."""
        if self.lakehouse.is_nessie:
            from phlo_lakehouse.operations.nessie_refs import CreateReference

            self._run(CreateReference(from_ref=self.onto), self.branch)
        else:
            for ident in self.tables:
                if self.lakehouse.get_table(ident, self.onto).snapshot_id is None:
                    raise InvalidInput(
                        f"table {ident} has no snapshot to branch from",
                        hint="write the table's first snapshot directly; audit later ones",
                    )
            from phlo_lakehouse.snapshots import SnapshotManager

            manager = SnapshotManager(self.lakehouse, run=self._run_table)
            for ident in self.tables:
                manager.create_branch(ident, self.branch, ref=self.onto)
        self._started = True
        return self

    @property
    def catalog(self) -> Catalog:
        """The catalog to create tables in during the run (Nessie: on the audit branch)."""
        return self.lakehouse.catalog(self.branch if self.lakehouse.is_nessie else None)

    def table(self, name: str | TableIdentifier) -> LakehouseTable:
        """The table as the run sees it (its audit branch)."""
        return self.lakehouse.get_table(self._check(name), self.branch)

    def read(self, name: str | TableIdentifier, **scan: Any) -> pa.Table:
        """The table's rows on the audit branch."""
        return self.table(name).to_arrow(**scan)

    def append(self, name: str | TableIdentifier, rows: pa.Table) -> WriteAuditPublish:
        """Append ``rows`` to the table on the audit branch."""
        from phlo_lakehouse.operations.cherry_pick import append_to_branch

        ident = self._check(name)
        if self.lakehouse.is_nessie:
            self.lakehouse.get_table(ident, self.branch).table.append(rows)
        else:
            append_to_branch(self.lakehouse.get_table(ident, self.onto).table, rows, self.branch)
        self._written.add(ident)
        return self

    def run_audits(self) -> tuple[AuditOutcome, ...]:
        """Run every audit against the audit branch; exceptions count as failures."""
        outcomes = []
        for audit in self.audits:
            name = getattr(audit, "__name__", type(audit).__name__)
            try:
                verdict = audit(self)
            except Exception as e:  # noqa: BLE001 - an audit's exception is its failure report
                outcomes.append(AuditOutcome(name, False, f"{type(e).__name__}: {e}"[:300]))
                continue
            passed = verdict is None or bool(verdict)
            outcomes.append(AuditOutcome(name, passed, "" if passed else "returned False"))
        return tuple(outcomes)

    def publish(self, *, raise_on_failure: bool | None = None) -> WapResult:
        """Audit, then publish to ``onto`` when every audit passed.

        Raises:
            AuditFailed: an audit failed (unless ``raise_on_failure`` is False).
            Conflict: ``onto`` changed the same tables meanwhile; nothing was published.
        """
        self._require_started()
        outcomes = self.run_audits()
        if any(not o.passed for o in outcomes):
            result = self._finish(outcomes, published=False, details={})
            failed = [o for o in outcomes if not o.passed]
            if raise_on_failure if raise_on_failure is not None else self.raise_on_failure:
                raise AuditFailed(
                    f"audit {', '.join(o.name for o in failed)} failed on branch "
                    f"{self.branch!r} ({failed[0].message}); {self.onto} is unchanged",
                    hint=f"inspect the branch {self.branch!r} (kept unless cleanup='always'), "
                    "fix the data and run again",
                    result=result,
                )
            return result
        details = self._publish()
        return self._finish(outcomes, published=True, details=details)

    def abort(self) -> WapResult:
        """Give up: ``onto`` stays untouched; the branch is deleted if cleanup is "always"."""
        return self._finish((), published=False, details={"aborted": True})

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> WriteAuditPublish:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.publish()
        elif self._started and self.result is None:
            self.abort()

    # -- internals -----------------------------------------------------------------------------

    def _publish(self) -> dict[str, Any]:
        from phlo_lakehouse.operations.publish import PublishOperation

        done = self._run(PublishOperation(self.branch, self.tables), self.onto).details
        if self.lakehouse.is_nessie:
            return {"merged_hash": done["target_hash_after"], "keys": list(done["keys"])}
        return {"snapshot_ids": dict(done["snapshot_ids"])}

    def _run(self, operation: CatalogOperation, ref: str) -> OperationResult:
        """Run a catalog-level step through the lakehouse's executor (access check, audit,
        metrics)."""
        return self.lakehouse.run_catalog(operation, ref, principal=self.principal)

    def _run_table(self, operation: TableOperation, table: Any, ref: Any = None, **kw: Any) -> Any:
        return self.lakehouse.run(operation, table, ref, principal=self.principal, **kw)

    def _finish(
        self, outcomes: tuple[AuditOutcome, ...], *, published: bool, details: dict[str, Any]
    ) -> WapResult:
        delete = self.cleanup == "always" or (self.cleanup == "on_success" and published)
        deleted = False
        if delete:
            deleted = self._delete_branch()
        tables = self.tables or sorted(self._written)
        self.result = WapResult(
            branch=self.branch,
            onto=self.onto,
            published=published,
            audits=outcomes,
            tables=tuple(str(t) for t in tables),
            branch_deleted=deleted,
            details=details,
        )
        return self.result

    def _delete_branch(self) -> bool:
        if self.lakehouse.is_nessie:
            from phlo_lakehouse.operations.nessie_refs import DeleteReference

            self._run(DeleteReference(), self.branch)
            return True
        from phlo_lakehouse.snapshots import SnapshotManager

        manager = SnapshotManager(self.lakehouse, run=self._run_table)
        for ident in self.tables:
            try:
                manager.remove_ref(ident, self.branch)
            except LakehouseError:
                continue  # never created (start failed part-way)
        return True

    def _check(self, name: str | TableIdentifier) -> TableIdentifier:
        self._require_started()
        ident = parse_table_identifier(name)
        if self.tables and ident not in self.tables and not self.lakehouse.is_nessie:
            raise InvalidInput(
                f"table {ident} is not part of this write-audit-publish run",
                hint="list every table the run writes in tables=[...]",
            )
        return ident

    def _require_started(self) -> None:
        if not self._started:
            raise InvalidInput(
                "the write-audit-publish run has not started",
                hint="use it as a context manager or call start() first",
            )


__all__ = ["AuditOutcome", "WapResult", "WriteAuditPublish"]
