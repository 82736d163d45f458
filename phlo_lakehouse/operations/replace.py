"""The ``replace`` snapshot producer: swap files without changing table data (compaction, manifest
rewrite), committed with optimistic concurrency like Iceberg's ``RewriteFiles``.

On each attempt it reads the branch head, checks that every file it removes is still live and that
no delete file committed since the operation started applies to them, rebuilds the manifest list
from the *current* head (so files appended concurrently are kept), and commits with
``AssertRefSnapshotId``. A lost race with an append is absorbed by the next attempt; a removed
file that is no longer live raises `Conflict` (the caller re-plans).

PyIceberg 0.12 has no replace producer; this module writes manifests and manifest lists with
PyIceberg's writers and commits through `commit.commit_updates` (version pinned there). On
format v3 it reads and writes them with `_upstream.manifests_v3`: moved files keep their
``first_row_id``, the snapshot gets ``first-row-id``/``added-rows``, and ``next-row-id`` must not
have moved since it was read (else `Conflict`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from phlo_lakehouse._upstream.manifests_v3 import as_v3_data_file, read_lineage_entries
from phlo_lakehouse.errors import Conflict, StaleReplace
from phlo_lakehouse.metadata import partition_values
from phlo_lakehouse.operations.commit import commit_updates, next_row_id_requirements
from phlo_lakehouse.operations.live_files import (
    LiveFile,
    applicable_deletes,
    file_key,
    read_entries,
)
from phlo_lakehouse.operations.manifest_factory import ManifestFactory, manifests_of
from phlo_lakehouse.retry import active_commit_budget

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile, ManifestEntry, ManifestFile
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

_REPLAN_HINT = "re-plan against the refreshed table (the executor does this automatically)"


@dataclass
class ReplaceOutcome:
    """What a replace commit did."""

    snapshot: Snapshot
    attempts: int
    removed_data_files: int
    removed_delete_files: list[str] = field(default_factory=list)


class ReplaceFiles:
    """Removes ``removed`` data files and adds ``added`` ones on ``branch`` as one replace snapshot.

    Args:
        table: the table (refreshed in place on retry).
        branch: the branch to commit to.
        starting_snapshot_id: the head the caller planned from (concurrent deletes are checked
            against it).
        removed: live data files to remove.
        added: new data files holding exactly the removed files' live rows.
        drop_unused_deletes: also remove delete files that applied to removed files and apply
            to no remaining live data file.
        summary: extra snapshot summary properties.
        removed_deletes: live delete files to remove (dangling ones, or ones rewritten into
            ``added_deletes``).
        added_deletes: new delete files (position deletes) written to delete manifests.
        operation: the snapshot's operation: "replace" (no data change, the default),
            "delete" or "overwrite" (data retention removes rows).
        data_sequence_number: the data sequence number of the added data files (a compaction's
            starting snapshot's, so deletes committed meanwhile still apply to them); None:
            the commit's own.
        known_entries: live entries of manifests the caller has already read, by manifest path
            (manifests are immutable, so they need not be read again).
        delete_sequence_numbers: the data sequence number of added delete files, by path (a
            rewrite of delete files gives its output the highest number of the files it
            replaces, as Iceberg's ``RewritePositionDeleteFiles``); absent: the commit's own.
        unchanged_head: commit only onto ``starting_snapshot_id`` (a cherry-pick: a moved
            branch is re-planned, `StaleReplace`, never re-applied).
    """

    def __init__(
        self,
        table: Table,
        branch: str,
        *,
        starting_snapshot_id: int | None,
        removed: Sequence[LiveFile],
        added: Sequence[DataFile],
        drop_unused_deletes: bool = True,
        summary: dict[str, str] | None = None,
        removed_deletes: Sequence[LiveFile] = (),
        added_deletes: Sequence[DataFile] = (),
        operation: str = "replace",
        data_sequence_number: int | None = None,
        known_entries: Mapping[str, list[ManifestEntry]] | None = None,
        delete_sequence_numbers: Mapping[str, int] | None = None,
        unchanged_head: bool = False,
    ) -> None:
        self.table = table
        self.branch = branch
        self.starting_snapshot_id = starting_snapshot_id
        self.removed_paths = {f.path for f in removed}
        self.added = list(added)
        self.drop_unused_deletes = drop_unused_deletes
        self.extra_summary = dict(summary or {})
        self.removed_delete_keys = {file_key(d.data_file) for d in removed_deletes}
        self.added_deletes = list(added_deletes)
        self.operation = operation
        self.data_sequence_number = data_sequence_number
        self.delete_sequence_numbers = dict(delete_sequence_numbers or {})
        self.unchanged_head = unchanged_head
        self._entries_cache: dict[str, list[ManifestEntry]] = dict(known_entries or {})

    def commit(self) -> ReplaceOutcome:
        """Commit, re-validating on the refreshed head after each lost race, as often and as far
        apart as the table's ``commit.retry.*`` properties say (one budget with the executor's
        re-plans, see `phlo_lakehouse.retry.CommitBudget`).

        Raises:
            Conflict: a removed file is no longer live, a new delete applies to one, or every
                attempt lost a race (the manifests written for it are deleted: not committed).
            CommitStateUnknown: a commit's answer was lost and could not be settled: its
                manifests stay (vacuum removes them if they are orphans).
        """
        budget = active_commit_budget(self.table.properties)
        attempt = 0
        while True:
            attempt += 1
            written: list[str] = []
            try:
                updates, requirements, outcome = self._prepare(written)
                commit_updates(self.table, updates, requirements)
                outcome.attempts = attempt
                return outcome
            except Conflict as conflict:
                _delete_quietly(self.table, written)  # never committed: ours to remove
                if isinstance(conflict, StaleReplace):
                    raise
                budget.retry_after(conflict)
            self.table.refresh()

    def _prepare(self, written: list[str]) -> tuple[list, list, ReplaceOutcome]:
        from pyiceberg.manifest import DataFileContent
        from pyiceberg.table.update import (
            AddSnapshotUpdate,
            AssertRefSnapshotId,
            SetSnapshotRefUpdate,
        )

        metadata = self.table.metadata
        v3 = metadata.format_version >= 3  # row lineage kept: see _upstream.manifests_v3
        head = metadata.snapshot_by_name(self.branch)
        if head is None or (self.unchanged_head and head.snapshot_id != self.starting_snapshot_id):
            raise StaleReplace(f"branch {self.branch!r} moved or is empty", hint=_REPLAN_HINT)
        manifests = manifests_of(self.table, head)
        entries = self._entries(manifests)
        live_data = [
            LiveFile(e.data_file, e.sequence_number or 0, e.snapshot_id, path)
            for path, es in entries.items()
            for e in es
            if e.data_file.content == DataFileContent.DATA
        ]
        live_deletes = [
            LiveFile(e.data_file, e.sequence_number or 0, e.snapshot_id, path)
            for path, es in entries.items()
            for e in es
            if e.data_file.content != DataFileContent.DATA
        ]
        self._validate(metadata, live_data, live_deletes)
        removed_live = [f for f in live_data if f.path in self.removed_paths]
        remaining = [f for f in live_data if f.path not in self.removed_paths]
        dropped = self._unused_deletes(removed_live, remaining, live_deletes)
        implied = {file_key(d.data_file) for d in dropped}
        wanted = self.removed_delete_keys - implied
        dropped += [d for d in live_deletes if file_key(d.data_file) in wanted]
        # by key: the deletion vectors of other data files in the same Puffin file stay
        drop = {(p, None) for p in self.removed_paths} | {file_key(d.data_file) for d in dropped}

        snapshot_id = metadata.new_snapshot_id()
        sequence_number = metadata.next_sequence_number()
        commit_uuid = uuid.uuid4()
        writer = ManifestFactory(self.table, snapshot_id, commit_uuid, written)
        new_manifests: list[ManifestFile] = []
        for manifest in manifests:
            manifest_entries = entries[manifest.manifest_path]
            if not any(file_key(e.data_file) in drop for e in manifest_entries):
                new_manifests.append(manifest)
                continue
            kept = [e for e in manifest_entries if file_key(e.data_file) not in drop]
            gone = [e for e in manifest_entries if file_key(e.data_file) in drop]
            new_manifests.append(writer.rewrite(manifest, kept, gone))
        by_spec: dict[int, list[DataFile]] = defaultdict(list)
        for data_file in self.added:
            by_spec[data_file.spec_id].append(as_v3_data_file(data_file) if v3 else data_file)
        for spec_id, files in sorted(by_spec.items()):
            new_manifests.insert(
                0, writer.added(spec_id, files, sequence_number=self.data_sequence_number)
            )
        deletes_by_spec: dict[tuple[int, int], list[DataFile]] = defaultdict(list)
        for delete_file in self.added_deletes:
            delete_file = as_v3_data_file(delete_file) if v3 else delete_file
            number = self.delete_sequence_numbers.get(delete_file.file_path, -1)
            deletes_by_spec[(delete_file.spec_id, number)].append(delete_file)
        for (spec_id, number), files in sorted(deletes_by_spec.items()):
            new_manifests.insert(
                0,
                writer.added(
                    spec_id, files, deletes=True, sequence_number=None if number < 0 else number
                ),
            )

        summary = self._summary(remaining, live_deletes, dropped, removed_live)
        # on v3 new data manifests get row ids from next-row-id; moved files keep theirs
        manifest_list, added_rows = writer.manifest_list(
            new_manifests, head.snapshot_id, sequence_number
        )
        snapshot = new_snapshot(
            metadata,
            snapshot_id,
            head.snapshot_id,
            sequence_number,
            manifest_list,
            summary,
            operation=self.operation,
            added_rows=added_rows,
        )
        updates = [
            AddSnapshotUpdate(snapshot=snapshot),
            SetSnapshotRefUpdate(
                ref_name=self.branch,
                type="branch",
                snapshot_id=snapshot_id,
                max_ref_age_ms=metadata.refs[self.branch].max_ref_age_ms,
                max_snapshot_age_ms=metadata.refs[self.branch].max_snapshot_age_ms,
                min_snapshots_to_keep=metadata.refs[self.branch].min_snapshots_to_keep,
            ),
        ]
        requirements = [
            AssertRefSnapshotId(ref=self.branch, snapshot_id=head.snapshot_id),
            *next_row_id_requirements(self.table),
        ]
        outcome = ReplaceOutcome(
            snapshot=snapshot,
            attempts=1,
            removed_data_files=len(removed_live),
            removed_delete_files=sorted({d.path for d in dropped}),
        )
        return updates, requirements, outcome

    def _entries(self, manifests: Iterable[ManifestFile]) -> dict[str, list[ManifestEntry]]:
        missing = [m for m in manifests if m.manifest_path not in self._entries_cache]
        if self.table.metadata.format_version >= 3:
            for m in missing:
                self._entries_cache[m.manifest_path] = read_lineage_entries(self.table.io, m)
        else:
            self._entries_cache.update(read_entries(self.table.io, missing))
        return {m.manifest_path: self._entries_cache[m.manifest_path] for m in manifests}

    def _validate(
        self, metadata: TableMetadata, live_data: list[LiveFile], live_deletes: list[LiveFile]
    ) -> None:
        live_paths = {f.path for f in live_data}
        gone = sorted(self.removed_paths - live_paths)
        live_keys = {file_key(d.data_file) for d in live_deletes}
        gone += sorted(p for p, _ in self.removed_delete_keys - live_keys)
        if gone:
            raise StaleReplace(
                f"{len(gone)} file(s) to replace are no longer live, e.g. {gone[0]}",
                hint=_REPLAN_HINT,
            )
        start = (
            metadata.snapshot_by_id(self.starting_snapshot_id)
            if self.starting_snapshot_id
            else None
        )
        start_seq = start.sequence_number if start is not None else 0
        new_deletes = [d for d in live_deletes if d.data_sequence_number > (start_seq or 0)]
        if new_deletes:
            removed = [f for f in live_data if f.path in self.removed_paths]
            for data in removed:
                if applicable_deletes(data, new_deletes):
                    raise StaleReplace(
                        f"a delete committed concurrently applies to {data.path}",
                        hint=_REPLAN_HINT,
                    )

    def _unused_deletes(
        self, removed: list[LiveFile], remaining: list[LiveFile], deletes: list[LiveFile]
    ) -> list[LiveFile]:
        if not self.drop_unused_deletes or not deletes:
            return []
        touched = {
            file_key(d.data_file): d for f in removed for d in applicable_deletes(f, deletes)
        }
        remaining_by_partition: dict[tuple, list[LiveFile]] = defaultdict(list)
        for f in remaining:
            remaining_by_partition[f.partition_key].append(f)
        unused = []
        for delete in touched.values():
            candidates = (
                remaining
                if len(delete.data_file.partition) == 0
                else remaining_by_partition.get(delete.partition_key, [])
            )
            if not any(applicable_deletes(f, [delete]) for f in candidates):
                unused.append(delete)
        return unused

    def _summary(
        self,
        remaining: list[LiveFile],
        live_deletes: list[LiveFile],
        dropped: list[LiveFile],
        removed: list[LiveFile],
    ) -> dict[str, str]:
        from pyiceberg.manifest import DataFileContent

        dropped_keys = {file_key(d.data_file) for d in dropped}
        kept_deletes = [d for d in live_deletes if file_key(d.data_file) not in dropped_keys]
        added_deletes = [LiveFile(f, 0, None, "") for f in self.added_deletes]
        added_rows = sum(f.record_count for f in self.added)
        added_size = sum(f.file_size_in_bytes for f in self.added)
        after_deletes = kept_deletes + added_deletes
        pos = [d for d in after_deletes if d.data_file.content == DataFileContent.POSITION_DELETES]
        eq = [d for d in after_deletes if d.data_file.content == DataFileContent.EQUALITY_DELETES]
        summary = {
            "added-data-files": str(len(self.added)),
            "deleted-data-files": str(len(removed)),
            "added-records": str(added_rows),
            "deleted-records": str(sum(f.data_file.record_count for f in removed)),
            "added-files-size": str(added_size),
            "removed-files-size": str(
                sum(f.data_file.file_size_in_bytes for f in removed)
                + sum(d.data_file.file_size_in_bytes for d in dropped)
            ),
            "removed-delete-files": str(len(dropped)),
            "added-delete-files": str(len(added_deletes)),
            "total-data-files": str(len(remaining) + len(self.added)),
            "total-delete-files": str(len(after_deletes)),
            "total-records": str(sum(f.data_file.record_count for f in remaining) + added_rows),
            "total-files-size": str(
                sum(f.data_file.file_size_in_bytes for f in remaining)
                + added_size
                + sum(d.data_file.file_size_in_bytes for d in after_deletes)
            ),
            "total-position-deletes": str(sum(d.data_file.record_count for d in pos)),
            "total-equality-deletes": str(sum(d.data_file.record_count for d in eq)),
            "changed-partition-count": str(
                len(
                    {f.partition_key for f in removed}
                    | {(f.spec_id, partition_values(f.partition)) for f in self.added}
                )
            ),
        }
        summary.update(self.extra_summary)
        return summary


def new_snapshot(
    metadata,
    snapshot_id,
    parent_id,
    sequence_number,
    manifest_list,
    summary,
    operation="replace",
    *,
    added_rows=None,
):
    """The snapshot to add; on format v3 (``added_rows`` given) with its row lineage: the
    table's ``next-row-id`` as ``first-row-id`` and the rows its manifest list assigned."""
    from pyiceberg.table.snapshots import Operation, Snapshot, Summary

    lineage = {}
    if added_rows is not None:
        lineage = {"first_row_id": metadata.next_row_id or 0, "added_rows": added_rows}
    return Snapshot(
        snapshot_id=snapshot_id,
        parent_snapshot_id=parent_id,
        sequence_number=sequence_number,
        manifest_list=manifest_list,
        summary=Summary(operation=Operation(operation), **summary),
        schema_id=metadata.current_schema_id,
        **lineage,
    )


def _delete_quietly(table: Table, paths: list[str]) -> None:
    from phlo_lakehouse.storage.deletion import delete_files

    delete_files(table.io, paths)
