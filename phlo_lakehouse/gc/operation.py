"""`NessieGCOperation`: Nessie garbage collection as a catalog-level operation, so it runs through
the one executor like every other action — access-checked with the ``vacuum`` permission on the
catalog resource (``<catalog>``), traced, audited, with dry run — from Python, the CLI and Dagster.

The plan is the whole read side (mark, list, classify: `NessieGC.plan`); execution checks the
references again and deletes the candidates, or writes them to ``defer`` for review. Plans and
results carry the same figures. No table metadata changes: results have ``committed=False``.

Example:
    >>> op = NessieGCOperation(cutoffs=["P10D", "dev-.*=5"], older_than="3d")
    >>> op.settings()["cutoffs"]
    ['P10D', 'dev-.*=5']
    >>> lakehouse.run_catalog(op, None, dry_run=True).figures["candidates"]  # doctest: +SKIP
    42
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from phlo_lakehouse.errors import InvalidInput, OperationFailed
from phlo_lakehouse.gc.collector import GCPlan, NessieGC
from phlo_lakehouse.gc.mark import READ_THREADS
from phlo_lakehouse.gc.settings import DEFAULT_OLDER_THAN, GCSettings
from phlo_lakehouse.operations.base import (
    CatalogOperation,
    CatalogTarget,
    OperationPlan,
    OperationResult,
)

#: Delete failures a result's details list (all are counted in ``delete_failures``).
SHOWN_FAILURES = 1000


class NessieGCOperation(CatalogOperation):
    """Delete every file under a Nessie table location that no live commit of any reference
    needs and that is older than the grace period (see `phlo_lakehouse.gc`).

    Run it on the whole catalog: ``lakehouse.run_catalog(NessieGCOperation(...), None)``.

    Args:
        ref_regex: references the GC collects garbage for (whole names); the others keep
            their whole history.
        cutoffs: ``POLICY`` and ``REGEX=POLICY`` cutoff rules (default ``NONE``).
        older_than: grace period (default 3 days; under 24 hours needs ``force``).
        force: allow ``older_than`` under 24 hours.
        defer: write the candidates to this file instead of deleting them; delete them later
            with `ApplyDeferredGCOperation`.
        prefix_mismatch: "error", "ignore" or "delete" (as vacuum).
        now: the reference time of durations and the live set's creation time (default: now).
        threads: files read or listed at the same time.
        work_dir: where the scratch store goes (default: the system temp directory).

    Raises:
        InvalidInput: a malformed regex, cutoff or duration; ``older_than`` under 24 hours
            without ``force`` (all before any I/O).
    """

    name: ClassVar[str] = "nessie_gc"
    permission: ClassVar[str] = "vacuum"

    def __init__(
        self,
        *,
        ref_regex: str = ".*",
        cutoffs: str | Iterable[str] = (),
        older_than: str | int | timedelta = DEFAULT_OLDER_THAN,
        force: bool = False,
        defer: str | Path | None = None,
        prefix_mismatch: str = "error",
        now: datetime | None = None,
        threads: int = READ_THREADS,
        work_dir: str | None = None,
    ) -> None:
        self.gc_settings = GCSettings(
            ref_regex=ref_regex,
            cutoffs=(cutoffs,) if isinstance(cutoffs, str) else tuple(cutoffs),
            older_than=older_than,
            force=force,
            prefix_mismatch=prefix_mismatch,
            now=now,
            threads=threads,
            work_dir=work_dir,
        )
        if defer is not None and (not str(defer).strip() or Path(defer).is_dir()):
            raise InvalidInput(
                f"defer={str(defer)!r} is not a file name",
                hint="name the file the candidates go to, e.g. gc-candidates.jsonl",
            )
        self.defer = Path(defer) if defer is not None else None
        self._pending: tuple[NessieGC, GCPlan] | None = None
        self._finalizer: weakref.finalize | None = None

    def settings(self) -> dict[str, Any]:
        """The arguments, JSON-ready."""
        return {**self.gc_settings.to_dict(), "defer": str(self.defer) if self.defer else None}

    def plan(self, target: CatalogTarget) -> OperationPlan:
        """Mark, list and classify; deletes nothing.

        Raises:
            InvalidInput: not a Nessie catalog, or a reference given (GC covers them all).
            NotFound: ``ref_regex`` selects no reference.
            OperationFailed: an unreadable live file, an unlistable location, a prefix mismatch.
        """
        if target.ref is not None:
            raise InvalidInput(
                f"Nessie GC acts on every reference of the catalog, not on {target.ref!r}",
                hint="run it on the whole catalog (ref None) and select references with "
                "ref_regex / --ref-regex",
            )
        self._drop_pending()
        gc = NessieGC(target.lakehouse, self.gc_settings)  # type: ignore[arg-type]
        found = gc.plan()
        self._pending = (gc, found)
        self._finalizer = weakref.finalize(self, found.close)
        return target.plan(self.name, found.figures, found.details())

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        """Check the references again, then delete the candidates (or write them to ``defer``).

        Raises:
            OperationFailed: ``plan`` is not this operation's latest plan.
        """
        if self._pending is None or self._pending[1].details()["created_at"] != plan.details.get(
            "created_at"
        ):
            raise OperationFailed(
                "this Nessie GC plan was not made by this operation (or was executed already)",
                hint="run the operation through lakehouse.run_catalog, which plans and executes",
            )
        gc, found = self._pending
        self._pending = None
        if self._finalizer is not None:
            self._finalizer.detach()
        outcome = gc.execute(found, defer=self.defer)
        failures = outcome["failures"]
        details = {
            **plan.details,
            "tables": outcome["tables"],
            "deferred_file": outcome["deferred_file"],
            "delete_failures": dict(sorted(failures.items())[:SHOWN_FAILURES]),
        }
        return OperationResult.applied(
            plan, committed=False, figures=outcome["figures"], details=details
        )

    def _drop_pending(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._pending = None
        self._finalizer = None


class ApplyDeferredGCOperation(CatalogOperation):
    """Delete the candidates a deferred GC file lists, except any that became live since (the
    live set is built again with the run's cutoffs): the second step of ``defer``.

    Args:
        path: the file `NessieGCOperation` wrote with ``defer``.
        threads: files read or deleted at the same time.
        work_dir: where the scratch store goes.

    Example:
        >>> op = ApplyDeferredGCOperation("gc-candidates.jsonl")               # doctest: +SKIP
        >>> lakehouse.run_catalog(op, None).figures["deleted"]                 # doctest: +SKIP
        40
    """

    name: ClassVar[str] = "nessie_gc_apply"
    permission: ClassVar[str] = "vacuum"

    def __init__(
        self, path: str | Path, *, threads: int = READ_THREADS, work_dir: str | None = None
    ) -> None:
        from phlo_lakehouse.gc.deferred import read_header

        self.path = Path(path)
        self.header = read_header(self.path)
        self.gc_settings = GCSettings(threads=threads, work_dir=work_dir)
        self._pending: Any = None
        self._finalizer: weakref.finalize | None = None

    def settings(self) -> dict[str, Any]:
        return {"path": str(self.path), "created_at": self.header.get("created_at")}

    def plan(self, target: CatalogTarget) -> OperationPlan:
        """Check the file and build the live set again: what applying it would delete now."""
        from phlo_lakehouse.gc.deferred import DeferredApply

        if target.ref is not None:
            raise InvalidInput(
                "applying a deferred GC file acts on the whole catalog",
                hint="run it with ref None",
            )
        self._drop_pending()
        apply = DeferredApply(NessieGC(target.lakehouse, self.gc_settings), self.path)  # type: ignore[arg-type]
        figures = apply.prepare()
        self._pending = apply
        self._finalizer = weakref.finalize(self, apply.close)
        details = {"path": str(self.path), "created_at": self.header.get("created_at")}
        return target.plan(self.name, figures, details)

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        """Delete what the plan found still unreferenced."""
        apply = self._pending
        if apply is None:
            raise OperationFailed(
                "this apply plan was not made by this operation (or was executed already)",
                hint="run the operation through lakehouse.run_catalog, which plans and executes",
            )
        try:
            figures, failures = apply.delete()
        finally:
            self._drop_pending()
        details = {
            **plan.details,
            "delete_failures": dict(sorted(failures.items())[:SHOWN_FAILURES]),
        }
        return OperationResult.applied(plan, committed=False, figures=figures, details=details)

    def _drop_pending(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._pending = None
        self._finalizer = None
