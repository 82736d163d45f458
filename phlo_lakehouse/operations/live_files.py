"""The live files of a snapshot: its data files and the delete files that apply to them.

Each manifest is read once, in parallel threads for remote storage.

Example:
    >>> live = live_files(table.table, table.snapshot)      # doctest: +SKIP
    >>> len(live.data), len(live.deletes)                    # doctest: +SKIP
    (48, 2)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.metadata import partition_values
from phlo_lakehouse.operations.gc_pause import gc_paused
from phlo_lakehouse.storage.listing import threads_for
from phlo_lakehouse.storage.parallel import parallel_map

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile, ManifestEntry, ManifestFile
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot


@dataclass(frozen=True)
class LiveFile:
    """A data or delete file live in a snapshot, with the sequence number deletes match by."""

    data_file: DataFile
    data_sequence_number: int
    snapshot_id: int | None
    manifest_path: str

    @property
    def path(self) -> str:
        return self.data_file.file_path

    @property
    def spec_id(self) -> int:
        return self.data_file.spec_id

    @property
    def partition_key(self) -> tuple[int, tuple[Any, ...]]:
        return (self.data_file.spec_id, partition_values(self.data_file.partition))

    @property
    def referenced_data_file(self) -> str | None:
        """The data file a deletion vector references (format v3), else None."""
        from phlo_lakehouse._upstream.manifests_v3 import data_file_field

        return data_file_field(self.data_file, "referenced_data_file")

    @property
    def content_size_in_bytes(self) -> int:
        """The bytes of this entry's content: a deletion vector's blob, else the whole file."""
        from phlo_lakehouse._upstream.manifests_v3 import data_file_field

        size = data_file_field(self.data_file, "content_size_in_bytes")
        return self.data_file.file_size_in_bytes if size is None else size


@dataclass
class LiveFiles:
    """The live data and delete files of one snapshot."""

    data: list[LiveFile] = field(default_factory=list)
    deletes: list[LiveFile] = field(default_factory=list)
    #: the live entries of each manifest read (manifests are immutable: reusable as read)
    entries: dict[str, list[ManifestEntry]] = field(default_factory=dict)


def read_entries(
    io: FileIO, manifests: Iterable[ManifestFile], *, live_only: bool = True
) -> dict[str, list[ManifestEntry]]:
    """Entries of each manifest (by path), read once each, in parallel."""
    unique = {m.manifest_path: m for m in manifests}
    if not unique:
        return {}
    entries = parallel_map(
        lambda m: m.fetch_manifest_entry(io, discard_deleted=live_only),
        list(unique.values()),
        threads_for(next(iter(unique))),
    )
    return dict(zip(unique, entries, strict=True))


def live_files(table: Table, snapshot: Snapshot | None) -> LiveFiles:
    """The live data and delete files of ``snapshot`` (nothing for None)."""
    from pyiceberg.manifest import DataFileContent

    result = LiveFiles()
    if snapshot is None:
        return result
    with gc_paused():  # thousands of entry records
        if table.metadata.format_version >= 3:
            # v3 fields kept: each data file's first_row_id (materialised), each deletion
            # vector's referenced data file
            from phlo_lakehouse._upstream.manifests_v3 import live_lineage_entries

            result.entries = live_lineage_entries(table.io, snapshot.manifest_list)
        else:
            result.entries = read_entries(table.io, snapshot.manifests(table.io))
        for path, entries in result.entries.items():
            for entry in entries:
                live = LiveFile(
                    entry.data_file, entry.sequence_number or 0, entry.snapshot_id, path
                )
                data = entry.data_file.content == DataFileContent.DATA
                (result.data if data else result.deletes).append(live)
    return result


def file_key(data_file: DataFile) -> tuple[str, str | None]:
    """What tells live files apart: the path and, for a deletion vector (a Puffin file holds
    those of many data files, each its own manifest entry), the data file it references."""
    from phlo_lakehouse._upstream.manifests_v3 import data_file_field

    return data_file.file_path, data_file_field(data_file, "referenced_data_file")


def applicable_deletes(data: LiveFile, deletes: Iterable[LiveFile]) -> list[LiveFile]:
    """Delete files that apply to ``data`` under Iceberg's sequence-number rules.

    Position deletes apply to data files of the same partition with a data sequence number not
    greater than theirs (a v3 deletion vector only to the file it references); equality deletes
    to those with a strictly smaller one (an equality delete in an unpartitioned spec applies to
    every partition).
    """
    from pyiceberg.manifest import DataFileContent

    from phlo_lakehouse._upstream.manifests_v3 import data_file_field

    matched = []
    for delete in deletes:
        same_partition = delete.partition_key == data.partition_key
        if delete.data_file.content == DataFileContent.POSITION_DELETES:
            if same_partition and delete.data_sequence_number >= data.data_sequence_number:
                referenced = data_file_field(delete.data_file, "referenced_data_file")
                if referenced is not None and referenced != data.path:
                    continue
                if _may_reference(delete.data_file, data.path):
                    matched.append(delete)
        elif delete.data_sequence_number > data.data_sequence_number and (
            same_partition or len(delete.data_file.partition) == 0
        ):
            matched.append(delete)
    return matched


def _may_reference(delete_file: DataFile, data_path: str) -> bool:
    """Position-delete file_path bounds (field 2147483546) rule out files it cannot reference."""
    lower = (delete_file.lower_bounds or {}).get(2147483546)
    upper = (delete_file.upper_bounds or {}).get(2147483546)
    if lower is None or upper is None:
        return True
    encoded = data_path.encode()
    return lower <= encoded <= upper
