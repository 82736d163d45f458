"""`ExpireSnapshotsOperation`: Iceberg's snapshot expiry (Java ``ExpireSnapshots`` semantics) in
one metadata commit, then deletion of exactly the files only expired snapshots referenced.

Retention follows Iceberg's ``RemoveSnapshots``: every branch keeps the ancestors of its head while
fewer than ``min-snapshots-to-keep`` are kept or while they are younger than
``max-snapshot-age-ms`` (the ref's own settings override the defaults), tags keep their head, refs
other than ``main`` older than ``max-ref-age-ms`` are removed, and snapshots no ref reaches are
kept only while younger than the cutoff.

Example:
    >>> from phlo_lakehouse.operations import OperationExecutor
    >>> from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation
    >>> op = ExpireSnapshotsOperation(older_than="7d", retain_last=3)
    >>> result = OperationExecutor(lakehouse).run(op, "demo.events")   # doctest: +SKIP
    >>> result.figures["snapshots_to_expire"]                          # doctest: +SKIP
    5
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse._upstream.pyiceberg import remove_snapshots_update
from phlo_lakehouse.errors import Conflict, InvalidInput, OperationFailed
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.commit import (
    commit_updates,
    refs_dropped_by_last_commit,
    refs_unchanged_requirements,
)
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.gc_pause import gc_paused
from phlo_lakehouse.operations.reachable import ManifestTree, reachable_files
from phlo_lakehouse.operations.snapshot_retention import (
    Retention,
    retained_refs,
    retained_snapshot_ids,
)
from phlo_lakehouse.storage.deletion import delete_files
from phlo_lakehouse.units import IntDefault, int_property, parse_duration
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata

    from phlo_lakehouse.table import LakehouseTable

MAX_SNAPSHOT_AGE_PROPERTY = "history.expire.max-snapshot-age-ms"
MIN_SNAPSHOTS_TO_KEEP_PROPERTY = "history.expire.min-snapshots-to-keep"
MAX_REF_AGE_PROPERTY = "history.expire.max-ref-age-ms"
DEFAULT_MAX_SNAPSHOT_AGE = timedelta(days=5)
DEFAULT_MIN_SNAPSHOTS_TO_KEEP = 1

#: File kinds in ``details["files_to_delete"]`` and the figure that counts each.
FILE_FIGURES: Mapping[str, str] = {
    "data_files": "data_files_to_delete",
    "delete_files": "delete_files_to_delete",
    "manifests": "manifests_to_delete",
    "manifest_lists": "manifest_lists_to_delete",
    "statistics_files": "statistics_files_to_delete",
}
_NOT_DELETED = (
    "not computed: delete_files=False, so unreferenced files stay in storage "
    "(Nessie GC or vacuum removes them)"
)


class ExpireSnapshotsOperation(TableOperation):
    """Expire old snapshots of a table and delete the files only they referenced.

    Expiry applies to the whole table — every branch and tag — whichever ref the table handle
    was loaded on; the ref only determines ``snapshot_id_before/after`` in the result. Ref heads
    are never expired and ``main`` is never removed.

    Args:
        older_than: snapshots older than this (relative to ``now``) may expire: "5d", "P5D",
            a number of seconds or a timedelta. Default: the table property
            ``history.expire.max-snapshot-age-ms``, else 5 days.
        retain_last: ancestors each branch keeps at least (≥ 1). Default: the table property
            ``history.expire.min-snapshots-to-keep``, else 1. A ref's own
            ``min-snapshots-to-keep`` / ``max-snapshot-age-ms`` override both arguments.
        delete_files: delete the files only expired snapshots referenced. With False only the
            metadata commit happens (needed on Nessie, where other references may still need
            the files; Nessie GC deletes them).
        now: the time ages are measured from (naive values are UTC). Default: the current
            time when the plan is made.

    Raises:
        InvalidDuration: ``older_than`` is malformed or negative.
        InvalidInput: ``retain_last`` is not a whole number ≥ 1, or ``now`` is not a datetime.

    Example:
        >>> op = ExpireSnapshotsOperation(older_than="7d", retain_last=3)
        >>> op.settings()["retain_last"]
        3
    """

    name: ClassVar[str] = "expire"
    permission: ClassVar[str] = "expire"

    def __init__(
        self,
        older_than: str | int | timedelta | None = None,
        retain_last: int | None = None,
        *,
        delete_files: bool = True,
        now: datetime | None = None,
    ) -> None:
        self.older_than = (
            parse_duration(older_than, name="older_than") if older_than is not None else None
        )
        if retain_last is not None and (
            isinstance(retain_last, bool) or not isinstance(retain_last, int) or retain_last < 1
        ):
            raise InvalidInput(
                Phrase(
                    "{} is not a whole number of snapshots >= 1",
                    Arg("retain_last", retain_last, group="expire"),
                ),
                hint=Phrase(
                    "pass {} or more (each branch always keeps its head)",
                    Arg("retain_last", 1, group="expire"),
                ),
            )
        if now is not None and not isinstance(now, datetime):
            raise InvalidInput(f"now={now!r} is not a datetime", hint="pass a datetime or None")
        self.retain_last = retain_last
        self.delete_files = bool(delete_files)
        self.now = now.replace(tzinfo=UTC) if now is not None and now.tzinfo is None else now

    def settings(self) -> dict[str, Any]:
        """The arguments, JSON-ready."""
        return {
            "older_than_seconds": self.older_than.total_seconds() if self.older_than else None,
            "retain_last": self.retain_last,
            "delete_files": self.delete_files,
            "now": self.now.isoformat() if self.now else None,
        }

    def plan(self, table: LakehouseTable) -> OperationPlan:
        """Which snapshots expire, which refs go, and which files only they reference.

        Raises:
            InvalidInput: a Nessie table with ``delete_files=True``.
            InvalidConfig: a ``history.expire.*`` table property is malformed.
        """
        check_format_support(table, self.name)
        if table.nessie and self.delete_files:
            raise InvalidInput(
                f"expiring {table} would delete files that Nessie may still need",
                hint="other Nessie branches/tags and older Nessie commits may still reference "
                "these files; run with delete_files=False and let Nessie GC delete them "
                "(phlo_lakehouse.gc.NessieGCOperation, `phlo-lakehouse gc`)",
            )
        metadata = table.table.metadata
        now = self.now or datetime.now(UTC)
        retention = self._retention(metadata.properties)
        cutoff_ms = _millis(now) - retention.max_snapshot_age_ms
        kept_refs, removed_refs = retained_refs(metadata, _millis(now), retention)
        retained = retained_snapshot_ids(metadata, kept_refs, _millis(now), cutoff_ms, retention)
        expired = sorted(s.snapshot_id for s in metadata.snapshots if s.snapshot_id not in retained)

        files: dict[str, list[str]] = {kind: [] for kind in FILE_FIGURES}
        if expired and self.delete_files:
            index = _FileIndex.read(table.table, metadata)
            before = index.files(s.snapshot_id for s in metadata.snapshots)
            after = index.files(retained)
            files = {kind: sorted(before[kind] - after[kind]) for kind in FILE_FIGURES}
        details: dict[str, Any] = {
            "now": now.isoformat(),
            "expire_older_than": _iso(cutoff_ms),
            "min_snapshots_to_keep": retention.min_snapshots_to_keep,
            "ref_snapshot_ids": {n: r.snapshot_id for n, r in sorted(metadata.refs.items())},
            "expired_snapshot_ids": expired,
            "removed_refs": removed_refs,
        }
        if self.delete_files:
            details["files_to_delete"] = files
        else:
            details["files_left_in_place"] = _NOT_DELETED
        figures = _figures(len(expired), len(removed_refs), len(retained), files)
        return self._plan(table, figures, details)

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Commit the expiry in one metadata commit, then delete the plan's files that the
        committed metadata no longer reaches.

        Raises:
            Conflict: a ref moved, appeared or disappeared since the plan (the executor re-plans).
        """
        from pyiceberg.table.update import (
            RemovePartitionStatisticsUpdate,
            RemoveSnapshotRefUpdate,
            RemoveStatisticsUpdate,
        )

        expired = list(plan.details["expired_snapshot_ids"])
        removed_refs = list(plan.details["removed_refs"])
        if not expired and not removed_refs:
            return OperationResult.applied(
                plan, committed=False, snapshot_id_after=table.snapshot_id
            )
        refs_read: dict[str, int] = dict(plan.details["ref_snapshot_ids"])
        # The commit is applied to the catalog's current metadata, where RemoveSnapshotsUpdate also
        # drops any ref pointing at an expired snapshot: a tag created since the plan would be lost
        # silently, and AssertRefSnapshotId can only guard refs we know of. Re-reading the refs
        # here narrows that window from the whole plan to this one round trip.
        current = table.table.refresh().metadata
        current_refs = {n: r.snapshot_id for n, r in current.refs.items()}
        missing = set(expired) - {s.snapshot_id for s in current.snapshots}
        if current_refs != refs_read or missing:
            raise Conflict(
                f"the refs or snapshots of {table.identifier} changed since the expiry was planned",
                hint="re-run; the expiry is planned again on the refreshed table",
            )

        gone = set(expired)
        updates: list[Any] = [RemoveSnapshotRefUpdate(ref_name=name) for name in removed_refs]
        updates += [
            RemoveStatisticsUpdate(snapshot_id=s.snapshot_id)
            for s in current.statistics
            if s.snapshot_id in gone
        ]
        updates += [
            RemovePartitionStatisticsUpdate(snapshot_id=s.snapshot_id)
            for s in current.partition_statistics
            if s.snapshot_id in gone
        ]
        if expired:
            updates.append(remove_snapshots_update(expired))
        commit_updates(table.table, updates, refs_unchanged_requirements(table.table, refs_read))
        lost = refs_dropped_by_last_commit(table.table, refs_read)
        if lost:
            # Only REST catalogs get here (others validate the whole ref set before committing).
            raise OperationFailed(
                f"a ref created during the expiry was dropped with its snapshot: "
                f"{', '.join(f'{n}@{i}' for n, i in sorted(lost.items()))}; no file was deleted",
                hint="re-create the ref from the previous metadata.json (its files are intact)",
            )

        committed = table.table.metadata
        snapshot_ids = {s.snapshot_id for s in committed.snapshots}
        planned: Mapping[str, list[str]] = plan.details.get("files_to_delete") or {}
        deleted: dict[str, list[str]] = {kind: [] for kind in FILE_FIGURES}
        extra: dict[str, Any] = {}
        if self.delete_files and any(planned.values()):
            # Recomputed from what was committed, not taken from the plan: a file reachable now
            # is never deleted, whatever the plan said.
            reachable = reachable_files(table.table).all()
            failed = delete_files(
                table.table.io,
                [p for paths in planned.values() for p in paths if p not in reachable],
            ).failed
            deleted = {
                kind: [p for p in planned.get(kind, []) if p not in reachable and p not in failed]
                for kind in FILE_FIGURES
            }
            kept = sorted(p for paths in planned.values() for p in paths if p in reachable)
            if kept:
                extra["still_reachable"] = kept
            if failed:
                extra["delete_failures"] = sorted(failed)
                extra["delete_failure_reasons"] = dict(failed)
        figures = _figures(
            len(gone - snapshot_ids),
            len([r for r in removed_refs if r not in committed.refs]),
            len(snapshot_ids),
            deleted,
        )
        details = dict(plan.details)
        if self.delete_files:
            details["files_to_delete"] = deleted
        return OperationResult.applied(
            plan, snapshot_id_after=table.snapshot_id, figures=figures, details=details | extra
        )

    def _retention(self, properties: Mapping[str, str]) -> Retention:
        """Explicit arguments, else the table's ``history.expire.*`` properties, else Iceberg's
        defaults."""
        if self.older_than is not None:
            max_age_ms = int(self.older_than.total_seconds() * 1000)
        else:
            default_ms = int(DEFAULT_MAX_SNAPSHOT_AGE.total_seconds() * 1000)
            max_age_ms = _int_property(properties, MAX_SNAPSHOT_AGE_PROPERTY, default_ms, 0)
        if self.retain_last is not None:
            min_keep = self.retain_last
        else:
            min_keep = _int_property(
                properties, MIN_SNAPSHOTS_TO_KEEP_PROPERTY, DEFAULT_MIN_SNAPSHOTS_TO_KEEP, 1
            )
        max_ref_age = _int_property(properties, MAX_REF_AGE_PROPERTY, None, 1)
        return Retention(max_age_ms, min_keep, max_ref_age)


@dataclass(frozen=True)
class _FileIndex:
    """Per snapshot: its manifest list, manifests and statistics files; per manifest: its live
    files. Every manifest list and manifest is read once, so the files reachable before and after
    an expiry both come from one read of the table."""

    manifest_lists: Mapping[int, str]
    manifests: Mapping[int, tuple[str, ...]]
    content: Mapping[str, tuple[tuple[str, bool], ...]]
    statistics: Mapping[int, tuple[str, ...]]

    @classmethod
    def read(cls, table: Table, metadata: TableMetadata) -> _FileIndex:
        with gc_paused():  # tens of thousands of paths and entry tuples
            return cls._read(table, metadata)

    @classmethod
    def _read(cls, table: Table, metadata: TableMetadata) -> _FileIndex:
        io = table.io
        snapshots = list(metadata.snapshots)
        tree = ManifestTree.read(io, snapshots, metadata.location)
        statistics: dict[int, list[str]] = {}
        for stat in (*metadata.statistics, *metadata.partition_statistics):
            statistics.setdefault(stat.snapshot_id, []).append(stat.statistics_path)
        return cls(
            manifest_lists={s.snapshot_id: s.manifest_list for s in snapshots},
            manifests={
                s.snapshot_id: tuple(paths)
                for s, paths in zip(snapshots, tree.manifests, strict=True)
            },
            content={
                path: tuple((file_path, content != 0) for file_path, content in rows)
                for path, rows in tree.content.items()
            },
            statistics={k: tuple(v) for k, v in statistics.items()},
        )

    def files(self, snapshot_ids: Iterable[int]) -> dict[str, set[str]]:
        """Files reachable from ``snapshot_ids``, by kind (the keys of `FILE_FIGURES`)."""
        found: dict[str, set[str]] = {kind: set() for kind in FILE_FIGURES}
        for snapshot_id in snapshot_ids:
            found["manifest_lists"].add(self.manifest_lists[snapshot_id])
            found["manifests"].update(self.manifests[snapshot_id])
            found["statistics_files"].update(self.statistics.get(snapshot_id, ()))
        for manifest in found["manifests"]:
            for path, is_delete in self.content[manifest]:
                found["delete_files" if is_delete else "data_files"].add(path)
        return found


def _figures(
    expired: int, removed_refs: int, retained: int, files: Mapping[str, list[str]]
) -> dict[str, int]:
    figures = {
        "snapshots_to_expire": expired,
        "refs_to_remove": removed_refs,
        "snapshots_retained": retained,
    }
    figures.update({figure: len(files.get(kind, [])) for kind, figure in FILE_FIGURES.items()})
    return figures


def _int_property(
    properties: Mapping[str, str], key: str, default: IntDefault, minimum: int
) -> int | IntDefault:
    hint = f"fix or remove the property, or pass the value to expire explicitly ({key})"
    return int_property(properties, key, default, minimum=minimum, hint=hint)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat()
