"""`RewriteManifestsOperation`: cluster data manifests by partition to a target manifest size.

Many small manifests (one per append) make every scan plan slowly. The rewrite keeps every data
file entry (as EXISTING, with its original snapshot id and sequence numbers), sorts entries by
partition so a partition filter prunes whole manifests, and writes manifests of about
``commit.manifest.target-size-bytes`` (default 8 MB). Delete manifests are kept as they are. The
commit is a ``replace`` snapshot; the data does not change.

On format v3 tables row lineage is kept: each moved data file is written with the
``first_row_id`` it inherited (so every row keeps its ``_row_id``; its
``_last_updated_sequence_number`` comes from the entry's unchanged sequence number), the new
manifests get row ids from the table's ``next-row-id`` in the manifest list, and the snapshot
records them (``first-row-id``, ``added-rows``), as the spec's row-lineage rules require.

Example:
    >>> op = RewriteManifestsOperation()
    >>> OperationExecutor(lakehouse).run(op, "demo.events")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.metadata import partition_values
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.commit import commit_updates, next_row_id_requirements
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.live_files import read_entries
from phlo_lakehouse.operations.manifest_factory import ManifestFactory
from phlo_lakehouse.operations.replace import new_snapshot
from phlo_lakehouse.operations.snapshot_state import require_snapshot
from phlo_lakehouse.outcome import may_clean_up
from phlo_lakehouse.storage.deletion import delete_files
from phlo_lakehouse.units import FILE_SIZES, parse_size

if TYPE_CHECKING:
    from pyiceberg.manifest import ManifestEntry, ManifestFile

    from phlo_lakehouse.table import LakehouseTable

MANIFEST_TARGET_PROPERTY = "commit.manifest.target-size-bytes"
DEFAULT_MANIFEST_TARGET = 8 * 1024 * 1024


class RewriteManifestsOperation(TableOperation):
    """Rewrite a branch's data manifests, clustered by partition.

    Args:
        target_manifest_size: bytes or "8MB"; default ``commit.manifest.target-size-bytes``.
        rewrite_all: rewrite even when it would not reduce the number of manifests.
    """

    name = "rewrite_manifests"
    permission = "optimize"

    def __init__(
        self, *, target_manifest_size: str | int | None = None, rewrite_all: bool = False
    ) -> None:
        self.target = (
            parse_size(target_manifest_size, name="target_manifest_size", within=FILE_SIZES)
            if target_manifest_size is not None
            else None
        )
        self.rewrite_all = rewrite_all

    def settings(self) -> dict[str, Any]:
        return {"target_manifest_size": self.target, "rewrite_all": self.rewrite_all}

    def plan(self, table: LakehouseTable) -> OperationPlan:
        from pyiceberg.manifest import ManifestContent

        if table.ref_kind != "branch":
            raise InvalidInput(
                f"{table.ref!r} is a tag; only branches can be rewritten", hint="pick a branch"
            )
        check_format_support(table, self.name)
        target = self.target or int(
            table.table.properties.get(MANIFEST_TARGET_PROPERTY, DEFAULT_MANIFEST_TARGET)
        )
        snapshot = table.snapshot
        manifests = snapshot.manifests(table.table.io) if snapshot is not None else []
        data = [m for m in manifests if m.content == ManifestContent.DATA]
        entries = sum(_entry_count(m) for m in data)
        total_bytes = sum(m.manifest_length for m in data)
        per_manifest = max(1, int(target / (total_bytes / entries))) if entries else 1
        by_spec: dict[int, int] = defaultdict(int)
        for manifest in data:
            by_spec[manifest.partition_spec_id] += _entry_count(manifest)
        expected = sum(math.ceil(n / per_manifest) for n in by_spec.values() if n)
        worth = bool(data) and (self.rewrite_all or expected < len(data))
        figures = {
            "manifests_to_rewrite": len(data) if worth else 0,
            "entries_to_rewrite": entries if worth else 0,
            "expected_manifests": expected if worth else 0,
            "delete_manifests_kept": len(manifests) - len(data),
        }
        details = {
            "target_manifest_size": target,
            "entries_per_manifest": per_manifest,
            "manifests": sorted(m.manifest_path for m in data) if worth else [],
        }
        return self._plan(table, figures, details)

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        from pyiceberg.manifest import ManifestContent
        from pyiceberg.table.update import (
            AddSnapshotUpdate,
            AssertRefSnapshotId,
            SetSnapshotRefUpdate,
        )

        if not plan.figures["manifests_to_rewrite"]:
            return OperationResult.applied(plan, committed=False)
        metadata = table.table.metadata
        head = require_snapshot(table.table, plan.snapshot_id)
        v3 = metadata.format_version >= 3
        manifests = _manifests(table, head.manifest_list) if v3 else head.manifests(table.table.io)
        data = [m for m in manifests if m.content == ManifestContent.DATA]
        deletes = [m for m in manifests if m.content != ManifestContent.DATA]
        entries = _lineage_entries(table, data) if v3 else read_entries(table.table.io, data)
        snapshot_id = metadata.new_snapshot_id()
        written: list[str] = []
        factory = ManifestFactory(table.table, snapshot_id, uuid.uuid4(), written)
        commit_sent = False
        try:
            new_manifests = self._clustered(
                factory, data, entries, plan.details["entries_per_manifest"]
            )
            sequence_number = metadata.next_sequence_number()
            props = head.summary.additional_properties if head.summary is not None else {}
            previous = {k: v for k, v in props.items() if k.startswith("total-")}
            summary = {
                **previous,
                "manifests-created": str(len(new_manifests)),
                "manifests-replaced": str(len(data)),
                "manifests-kept": str(len(deletes)),
                "entries-processed": str(sum(len(e) for e in entries.values())),
                "phlo-lakehouse.operation": self.name,
            }
            # on v3 new data manifests get row ids (added_rows), moved files keep theirs
            manifest_list, added_rows = factory.manifest_list(
                new_manifests + deletes, head.snapshot_id, sequence_number
            )
            snapshot = new_snapshot(
                metadata,
                snapshot_id,
                head.snapshot_id,
                sequence_number,
                manifest_list,
                summary,
                added_rows=added_rows,
            )
            ref = metadata.refs[table.table_ref]
            commit_sent = True
            commit_updates(
                table.table,
                [
                    AddSnapshotUpdate(snapshot=snapshot),
                    SetSnapshotRefUpdate(
                        ref_name=table.table_ref,
                        type="branch",
                        snapshot_id=snapshot_id,
                        max_ref_age_ms=ref.max_ref_age_ms,
                        max_snapshot_age_ms=ref.max_snapshot_age_ms,
                        min_snapshots_to_keep=ref.min_snapshots_to_keep,
                    ),
                ],
                [
                    AssertRefSnapshotId(ref=table.table_ref, snapshot_id=head.snapshot_id),
                    *next_row_id_requirements(table.table),
                ],
            )
        except BaseException as error:
            # Ours to remove only if the commit provably did not land (commit_updates raises
            # Conflict only for a refusal; an unknown outcome keeps the manifests for vacuum).
            if may_clean_up(error, commit_sent=commit_sent):
                delete_files(table.table.io, written)
            raise
        figures = {
            "manifests_to_rewrite": len(data),
            "entries_to_rewrite": sum(len(e) for e in entries.values()),
            "expected_manifests": len(new_manifests),
            "delete_manifests_kept": len(deletes),
        }
        return OperationResult.applied(
            plan,
            snapshot_id_after=snapshot_id,
            figures=figures,
            details={
                **plan.details,
                "manifests_written": sorted(m.manifest_path for m in new_manifests),
            },
        )

    @staticmethod
    def _clustered(
        factory: ManifestFactory,
        manifests: list[ManifestFile],
        entries: dict[str, list[ManifestEntry]],
        per_manifest: int,
    ) -> list[ManifestFile]:
        from pyiceberg.manifest import ManifestContent

        by_spec: dict[int, list[ManifestEntry]] = defaultdict(list)
        for manifest in manifests:
            by_spec[manifest.partition_spec_id].extend(entries[manifest.manifest_path])
        written = []
        for spec_id, spec_entries in sorted(by_spec.items()):
            spec_entries.sort(key=_partition_order)
            for start in range(0, len(spec_entries), per_manifest):
                with factory.writer(spec_id, ManifestContent.DATA) as writer:
                    for entry in spec_entries[start : start + per_manifest]:
                        writer.existing(entry)
                written.append(writer.to_manifest_file())
        return written


def _manifests(table: LakehouseTable, manifest_list: str) -> list[ManifestFile]:
    """A format v3 snapshot's manifests, with their ``first_row_id``."""
    from phlo_lakehouse._upstream.manifests_v3 import read_manifest_list

    return read_manifest_list(table.table.io, manifest_list)


def _lineage_entries(
    table: LakehouseTable, manifests: list[ManifestFile]
) -> dict[str, list[ManifestEntry]]:
    """Live entries of format v3 manifests, each data file with its materialised
    ``first_row_id`` (so rows keep their ``_row_id`` in the manifests written)."""
    from phlo_lakehouse._upstream.manifests_v3 import read_lineage_entries

    return {m.manifest_path: read_lineage_entries(table.table.io, m) for m in manifests}


def _partition_order(entry: ManifestEntry) -> tuple:
    partition = partition_values(entry.data_file.partition)
    values = tuple((v is None, v if v is not None else 0) for v in partition)
    return values, entry.data_file.file_path


def _entry_count(manifest: ManifestFile) -> int:
    return sum(
        n or 0
        for n in (
            manifest.added_files_count,
            manifest.existing_files_count,
            manifest.deleted_files_count,
        )
    )
