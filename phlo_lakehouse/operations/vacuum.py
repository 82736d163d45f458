"""`VacuumOperation`: removal of orphan files (files under a table's location that no metadata
references) with the safety rules of Iceberg's Spark ``remove_orphan_files``.

Safety rests on three rules:

- **List first, then read the metadata.** Storage is listed before the table is refreshed and its
  reachable set built, so a file committed after the listing is in the reachable set, and a file
  written after the listing is not listed at all.
- **Only old files are orphans.** A file younger than ``older_than`` (default 3 days, at least
  24 hours unless ``force=True``) may belong to a write that has not committed yet.
- **Check again right before deleting.** Execution reloads the table and keeps every planned
  orphan that has become reachable since the plan (e.g. through ``add_files``).

Vacuum changes no table metadata: its results always have ``committed=False``.

Example:
    >>> from phlo_lakehouse.operations import OperationExecutor
    >>> from phlo_lakehouse.operations.vacuum import VacuumOperation
    >>> op = VacuumOperation(older_than="3d")
    >>> result = OperationExecutor(lakehouse).run(op, "demo.events")   # doctest: +SKIP
    >>> result.figures["orphan_files"], result.committed               # doctest: +SKIP
    (3, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.gc_pause import gc_paused
from phlo_lakehouse.operations.orphans import (
    OrphanClassification,
    check_grace,
    check_prefix_mismatch,
    classify,
    classify_listed_files,
    is_inside,
    list_inside,
)
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.deletion import delete_files
from phlo_lakehouse.storage.listing import StoredFile
from phlo_lakehouse.storage.parallel import READ_THREADS

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable

DEFAULT_OLDER_THAN = "3d"


class VacuumOperation(TableOperation):
    """Delete orphan files: files under the table location that no snapshot of any ref, no
    manifest, no metadata file of the log and no statistics file references, and that are older
    than ``older_than``.

    The plan lists storage first and builds the reachable set afterwards; execution reloads the
    table and rebuilds the reachable set right before deleting, keeping any planned orphan that
    has become reachable meanwhile. No table metadata changes: results have ``committed=False``,
    and ``snapshot_id_before/after`` are the ref's head before planning and after deleting.

    Args:
        older_than: only files last modified before ``now - older_than`` can be orphans: "3d",
            "P3D", a number of seconds or a timedelta. Default 3 days.
        force: allow ``older_than`` under 24 hours. Files of writes that have not committed yet
            look exactly like orphans: pass True only when no writer is active on the table.
        location: the directory to scan (default: the table location); the table location or a
            directory inside it, e.g. ``<table location>/data``.
        prefix_mismatch: what to do with a listed file whose path matches a reachable file's but
            whose scheme or authority differ: "error" (default) stops, "ignore" keeps it,
            "delete" treats it as an orphan.
        now: the time ages are measured from (naive values are UTC). Default: the current time
            when the plan is made.
        threads: parallel deletions (≥ 1).

    Raises:
        InvalidDuration: ``older_than`` is malformed or negative.
        InvalidInput: ``older_than`` under 24 hours without ``force``, an unknown
            ``prefix_mismatch``, an empty ``location``, ``now`` not a datetime, or ``threads``
            not a whole number ≥ 1.

    Example:
        >>> op = VacuumOperation(older_than="7d", prefix_mismatch="ignore")
        >>> op.settings()["older_than_seconds"], op.settings()["prefix_mismatch"]
        (604800.0, 'ignore')
    """

    name: ClassVar[str] = "vacuum"
    permission: ClassVar[str] = "vacuum"

    def __init__(
        self,
        older_than: str | int | timedelta = DEFAULT_OLDER_THAN,
        *,
        force: bool = False,
        location: str | None = None,
        prefix_mismatch: str = "error",
        now: datetime | None = None,
        threads: int = READ_THREADS,
    ) -> None:
        self.older_than = check_grace(
            older_than, force=force, writer="writes that have not committed yet", group="vacuum"
        )
        check_prefix_mismatch(prefix_mismatch)
        if location is not None and (not isinstance(location, str) or not location.strip()):
            raise InvalidInput(
                f"location={location!r} is not a storage location",
                hint="omit location to scan the table location, or pass a directory inside it",
            )
        if now is not None and not isinstance(now, datetime):
            raise InvalidInput(f"now={now!r} is not a datetime", hint="pass a datetime or None")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidInput(
                f"threads={threads!r} is not a whole number >= 1",
                hint=f"pass threads=1 or more (default {READ_THREADS})",
            )
        self.force = bool(force)
        self.location = location.strip() if location is not None else None
        self.prefix_mismatch = prefix_mismatch
        self.now = now.replace(tzinfo=UTC) if now is not None and now.tzinfo is None else now
        self.threads = threads

    def settings(self) -> dict[str, Any]:
        """The arguments, JSON-ready."""
        return {
            "older_than_seconds": self.older_than.total_seconds(),
            "force": self.force,
            "location": self.location,
            "prefix_mismatch": self.prefix_mismatch,
            "now": self.now.isoformat() if self.now else None,
            "threads": self.threads,
        }

    def plan(self, table: LakehouseTable) -> OperationPlan:
        """List storage, then build the reachable set, and report the old unreachable files.

        Raises:
            InvalidInput: a Nessie table, or ``location`` outside the table location (checked
                before anything is listed).
            OperationFailed: ``prefix_mismatch="error"`` and a listed file matches a reachable
                file by path only.
        """
        _refuse_nessie(table)
        location = self._scan_location(table)
        cutoff = (self.now or datetime.now(UTC)) - self.older_than
        with gc_paused():  # tens of thousands of small acyclic objects
            table, listed, classification, orphans = self._find_orphans(table, location, cutoff)
            sizes = {f.path: f.size for f in orphans}
        return self._plan(
            table,
            _figures(len(listed), sizes, len(classification.prefix_mismatches)),
            {
                "orphan_files": list(sizes),
                "orphan_file_sizes": sizes,
                "location": location,
                "cutoff": cutoff.isoformat(),
            },
        )

    def _find_orphans(
        self, table: LakehouseTable, location: str, cutoff: datetime
    ) -> tuple[LakehouseTable, list[StoredFile], OrphanClassification, list[StoredFile]]:
        """(refreshed table, listed files, their classification, old unreachable files)."""
        # The order is the safety argument: whatever commits after this listing is in the
        # reachable set read below, and whatever is written after it is not listed.
        listed = list_inside(table, location)
        table = table.refresh()
        reachable = self._reachable(table)
        classification = classify(listed, reachable, self.prefix_mismatch)
        self._unreachable_by_version = (
            table.table.metadata_location,
            frozenset(classification.unreachable),
        )
        cutoff_ns = int(cutoff.timestamp() * 1_000_000) * 1000
        unreachable = set(classification.unreachable)
        orphans = sorted(
            (f for f in listed if f.path in unreachable and f.modified_ns < cutoff_ns),
            key=lambda f: f.path,
        )
        return table, listed, classification, orphans

    def _reachable(self, table: LakehouseTable) -> set[str]:
        """The reachable set of the table's metadata version, computed once per version: the
        metadata file is immutable, so execute can reuse plan's set when nothing committed."""
        location = table.table.metadata_location
        cached = getattr(self, "_reachable_cache", None)
        if cached is not None and cached[0] == location:
            return cached[1]
        reachable = reachable_files(table.table).all()
        self._reachable_cache = (location, reachable)
        return reachable

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Delete the plan's orphans that the freshly loaded metadata still does not reach.

        Commits nothing (``committed=False``): only files no metadata references are deleted.
        Planned orphans that became reachable since the plan are kept and counted in
        ``details["became_reachable"]``; files that could not be deleted are listed in
        ``details["delete_failures"]`` and not counted as deleted.
        """
        _refuse_nessie(table)
        planned: list[str] = list(plan.details.get("orphan_files", []))
        sizes: Mapping[str, int] = plan.details.get("orphan_file_sizes", {})
        current = table.refresh()
        to_delete: list[str] = []
        known = getattr(self, "_unreachable_by_version", None)
        if planned and known and known[0] == current.table.metadata_location:
            # Same metadata file as this instance's plan: the same reachable set, in which
            # every planned file was found unreachable a moment ago.
            to_delete = [p for p in planned if p in known[1]]
        elif planned:
            # Rebuilt here, not taken from the plan: a file committed since then (add_files of an
            # old file) must survive. A new prefix mismatch is kept unless the mode says delete.
            mode = "delete" if self.prefix_mismatch == "delete" else "ignore"
            reachable = self._reachable(current)
            to_delete = list(
                classify_listed_files(planned, reachable, prefix_mismatch=mode).unreachable
            )
        failed = delete_files(current.table.io, to_delete, threads=self.threads).failed
        deleted = sorted(p for p in to_delete if p not in failed)
        became_reachable = sorted(set(planned) - set(to_delete))
        deleted_sizes = dict(sizes) if deleted == planned else {p: sizes.get(p, 0) for p in deleted}
        details: dict[str, Any] = {
            "orphan_files": deleted,
            "orphan_file_sizes": deleted_sizes,
            "location": plan.details.get("location"),
            "cutoff": plan.details.get("cutoff"),
            "became_reachable": len(became_reachable),
        }
        if became_reachable:
            details["became_reachable_files"] = became_reachable
        if failed:
            details["delete_failures"] = sorted(failed)
            details["delete_failure_reasons"] = dict(failed)
        return OperationResult.applied(
            plan,
            committed=False,
            snapshot_id_after=current.snapshot_id,
            figures=_figures(
                int(plan.figures.get("files_listed") or 0),
                deleted_sizes,
                int(plan.figures.get("prefix_mismatches") or 0),
            ),
            details=details,
        )

    def _scan_location(self, table: LakehouseTable) -> str:
        """The location to list: the table location or, if given, a directory inside it."""
        table_location = table.table.location()
        if self.location is None:
            return table_location
        if not is_inside(self.location, table_location):
            raise InvalidInput(
                f"location {self.location} is not inside the location of {table.identifier} "
                f"({table_location})",
                hint="pass the table location or a directory inside it: files elsewhere may "
                "belong to other tables, which this table's metadata knows nothing about",
            )
        return self.location


def _refuse_nessie(table: LakehouseTable) -> None:
    if table.nessie:
        raise InvalidInput(
            f"vacuum of {table} is not safe on a Nessie catalog",
            hint="other Nessie branches/tags and older Nessie commits reference files this "
            "table's current metadata does not; use Nessie GC (`phlo-lakehouse gc`, "
            "phlo_lakehouse.gc.NessieGCOperation) to remove orphan files",
        )


def _figures(listed: int, orphan_sizes: Mapping[str, int], mismatches: int) -> dict[str, int]:
    return {
        "files_listed": listed,
        "orphan_files": len(orphan_sizes),
        "orphan_bytes": sum(orphan_sizes.values()),
        "prefix_mismatches": mismatches,
    }
