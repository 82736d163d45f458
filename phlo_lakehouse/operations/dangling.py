"""`RemoveDanglingDeletesOperation`: drop delete files that apply to no live data file.

Streaming upserts (Flink, Spark MERGE in merge-on-read mode, Firehose) write a delete file per
commit; once compaction has rewritten the data files they pointed at, those delete files apply to
nothing, yet every reader still opens them and every manifest still lists them. A delete file is
dangling when, under Iceberg's sequence-number rules (`files.applicable_deletes`):

- a position delete: no live data file of its spec and partition has a data sequence number at
  or below its own and a path inside its ``file_path`` bounds (so a file-scoped delete whose data
  file is gone is dangling, and so is one older than every data file of its partition: Iceberg's
  ``RemoveDanglingDeleteFiles`` rule);
- an equality delete: no live data file it could apply to (same spec and partition, or any
  partition for an unpartitioned spec) has a smaller data sequence number;
- a deletion vector (format v3): the data file it references (``referenced_data_file``) is no
  longer live. A Puffin file holds the vectors of many data files, each its own manifest entry:
  vectors are removed entry by entry (`live_files.file_key`), the others in the file stay.
  Position and equality delete files from before an upgrade to v3 follow the rules above.

Nothing can make a dangling delete apply again: new data files get higher sequence numbers, and a
compaction's output keeps at least the sequence number of what it rewrote. Removal is therefore
metadata only: one ``replace`` commit, no data file read or written, through the shared replace
producer (which checks on every attempt that each removed delete file is still live).

Example:
    >>> op = RemoveDanglingDeletesOperation()
    >>> result = OperationExecutor(lakehouse).run(op, "raw.events")          # doctest: +SKIP
    >>> result.figures["dangling_delete_files"]                              # doctest: +SKIP
    412
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.live_files import LiveFile, LiveFiles, file_key, live_files
from phlo_lakehouse.operations.replace import ReplaceFiles

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable

#: Field id of ``file_path`` in position delete files (its bounds name the files referenced).
DELETE_FILE_PATH_ID = 2147483546


def dangling_deletes(live: LiveFiles) -> list[LiveFile]:
    """The delete files of ``live`` that apply to none of its data files, sorted by path.

    Example:
        >>> [d.path for d in dangling_deletes(live_files(table, table.current_snapshot()))]
        ... # doctest: +SKIP
        ['s3://bucket/t/data/00000-9-deletes.parquet']
    """
    from pyiceberg.manifest import DataFileContent

    index = _PartitionIndex(live.data)
    dangling = []
    for delete in live.deletes:
        if delete.data_file.content == DataFileContent.POSITION_DELETES:
            applies = index.position_delete_applies(delete)
        else:
            applies = index.equality_delete_applies(delete)
        if not applies:
            dangling.append(delete)
    return sorted(dangling, key=lambda d: (d.path, d.referenced_data_file or ""))


class _PartitionIndex:
    """Live data files by (spec, partition): sorted paths and the lowest sequence number."""

    def __init__(self, data: list[LiveFile]) -> None:
        by_partition: dict[tuple, list[LiveFile]] = defaultdict(list)
        for f in data:
            by_partition[f.partition_key].append(f)
        self.paths: dict[tuple, list[str]] = {}
        self.sequence: dict[tuple, dict[str, int]] = {}
        self.min_sequence: dict[tuple, int] = {}
        for key, files in by_partition.items():
            self.sequence[key] = {f.path: f.data_sequence_number for f in files}
            self.paths[key] = sorted(self.sequence[key])
            self.min_sequence[key] = min(f.data_sequence_number for f in files)
        self.global_min = min(self.min_sequence.values(), default=None)

    def position_delete_applies(self, delete: LiveFile) -> bool:
        key = delete.partition_key
        referenced = delete.referenced_data_file
        if referenced is not None:  # a deletion vector: its one data file, live or not
            return referenced in self.sequence.get(key, {})
        lowest = self.min_sequence.get(key)
        if lowest is None or delete.data_sequence_number < lowest:
            return False
        lower, upper = _path_bounds(delete)
        paths, sequence = self.paths[key], self.sequence[key]
        start = 0 if lower is None else bisect.bisect_left(paths, lower)
        for path in paths[start:]:
            if upper is not None and path > upper:
                return False
            if sequence[path] <= delete.data_sequence_number:
                return True
        return False

    def equality_delete_applies(self, delete: LiveFile) -> bool:
        if len(delete.data_file.partition) == 0:
            lowest = self.global_min
        else:
            lowest = self.min_sequence.get(delete.partition_key)
        return lowest is not None and lowest < delete.data_sequence_number


def _path_bounds(delete: LiveFile) -> tuple[str | None, str | None]:
    """The ``file_path`` bounds of a position delete file, as text (None when absent); a
    deletion vector's are its referenced data file."""
    from phlo_lakehouse._upstream.manifests_v3 import data_file_field

    referenced = data_file_field(delete.data_file, "referenced_data_file")
    if referenced is not None:
        return referenced, referenced
    lower = (delete.data_file.lower_bounds or {}).get(DELETE_FILE_PATH_ID)
    upper = (delete.data_file.upper_bounds or {}).get(DELETE_FILE_PATH_ID)
    # Bounds are UTF-8 and may be truncated: a truncated upper bound is not an upper bound of
    # longer paths, so it is only used when it names a whole path (lower == upper).
    lower_text = lower.decode("utf-8", "replace") if lower is not None else None
    upper_text = upper.decode("utf-8", "replace") if upper is not None else None
    if upper_text is not None and upper_text != lower_text:
        upper_text = None
    return lower_text, upper_text


def referenced_data_file(delete: LiveFile) -> str | None:
    """The one data file a file-scoped position delete file references (its ``file_path``
    bounds are equal), else None - Java's ``ContentFileUtil.referencedDataFile``."""
    lower, upper = _path_bounds(delete)
    return upper if upper is not None and upper == lower else None


class RemoveDanglingDeletesOperation(TableOperation):
    """Remove delete files that apply to no live data file (metadata only, one commit).

    Every partition is checked: planning reads the live manifests once, nothing else.

    Figures: ``delete_files`` (live before), ``dangling_delete_files``,
    ``dangling_position_delete_files``, ``dangling_equality_delete_files``,
    ``dangling_deletion_vectors``, ``dangling_bytes``, ``dangling_delete_records``. Delete files
    count manifest entries: each deletion vector counts once (its Puffin file may hold others),
    and its bytes are its blob's (``content_size_in_bytes``), as Iceberg's snapshot summaries
    count them. Details: ``dangling_delete_files`` (paths) and ``dangling_deletion_vectors``
    (``[puffin path, referenced data file]`` of each vector).
    """

    name = "remove_dangling_deletes"
    permission = "optimize"

    def __init__(self) -> None:
        self._live_cache = LiveFilesCache()

    def plan(self, table: LakehouseTable) -> OperationPlan:
        from pyiceberg.manifest import DataFileContent

        if table.ref_kind != "branch":
            raise InvalidInput(
                f"{table.ref!r} is a tag; delete files are removed on branches",
                hint="run it on a branch",
            )
        check_format_support(table, self.name)
        live = self._live(table)
        dangling = dangling_deletes(live)
        position = [d for d in dangling if d.data_file.content == DataFileContent.POSITION_DELETES]
        vectors = [d for d in dangling if d.referenced_data_file is not None]
        figures = {
            "delete_files": len(live.deletes),
            "dangling_delete_files": len(dangling),
            "dangling_position_delete_files": len(position),
            "dangling_equality_delete_files": len(dangling) - len(position),
            "dangling_deletion_vectors": len(vectors),
            "dangling_bytes": sum(d.content_size_in_bytes for d in dangling),
            "dangling_delete_records": sum(d.data_file.record_count for d in dangling),
        }
        details = {
            "dangling_delete_files": sorted({d.path for d in dangling}),
            "dangling_deletion_vectors": [[d.path, d.referenced_data_file] for d in vectors],
        }
        return self._plan(table, figures, details)

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        keys = planned_dangling_keys(plan)
        if not keys:
            return OperationResult.applied(plan, committed=False)
        live = self._live(table, plan.snapshot_id)
        removed = [d for d in live.deletes if file_key(d.data_file) in keys]
        outcome = commit_removed_deletes(table, plan, removed, live, operation=self.name)
        return OperationResult.applied(
            plan,
            snapshot_id_after=outcome.snapshot.snapshot_id,
            details={**plan.details, "removed_delete_files": outcome.removed_delete_files},
            attempts=outcome.attempts,
        )

    def _live(self, table: LakehouseTable, snapshot_id: int | None = None) -> LiveFiles:
        return self._live_cache.get(table, snapshot_id)


def planned_dangling_keys(plan: OperationPlan) -> set[tuple[str, str | None]]:
    """The `live_files.file_key` of each delete file a plan found dangling: a deletion vector
    by its Puffin path and referenced data file, any other delete file by its path."""
    listed = plan.details.get("dangling_deletion_vectors", [])
    vectors = {(path, referenced) for path, referenced in listed}
    puffins = {path for path, _ in vectors}
    files = {(p, None) for p in plan.details["dangling_delete_files"] if p not in puffins}
    return files | vectors


class LiveFilesCache:
    """The live files of one snapshot of one table, read once for a plan and its execution.

    Example:
        >>> cache = LiveFilesCache()
        >>> cache.get(handle) is cache.get(handle, handle.snapshot_id)     # doctest: +SKIP
        True
    """

    def __init__(self) -> None:
        self._entry: tuple[tuple, LiveFiles] | None = None

    def get(self, table: LakehouseTable, snapshot_id: int | None = None) -> LiveFiles:
        """The live files of ``snapshot_id`` (default: the ref's head)."""
        snapshot = (
            table.table.snapshot_by_id(snapshot_id) if snapshot_id is not None else table.snapshot
        )
        key = (table.table.metadata.table_uuid, snapshot.snapshot_id if snapshot else None)
        if self._entry is None or self._entry[0] != key:
            self._entry = (key, live_files(table.table, snapshot))
        return self._entry[1]


def commit_removed_deletes(
    table: LakehouseTable,
    plan: OperationPlan,
    removed: list[LiveFile],
    live: LiveFiles,
    *,
    operation: str,
    added_deletes: list | None = None,
    delete_sequence_numbers: dict[str, int] | None = None,
):
    """One ``replace`` commit removing ``removed`` delete files (and adding ``added_deletes``,
    with ``delete_sequence_numbers`` by path) through the shared replace producer."""
    return ReplaceFiles(
        table.table,
        table.table_ref,
        starting_snapshot_id=plan.snapshot_id,
        removed=[],
        added=[],
        removed_deletes=removed,
        added_deletes=added_deletes or [],
        delete_sequence_numbers=delete_sequence_numbers,
        drop_unused_deletes=False,
        summary={"phlo-lakehouse.operation": operation},
        known_entries=live.entries,
    ).commit()
