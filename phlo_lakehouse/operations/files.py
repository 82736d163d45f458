"""Which files a table references (live entries, the reachable set) and which files storage holds.

Each manifest is read once however many snapshots share it, in parallel threads.

Example:
    >>> reach = reachable_files(table.table)                 # doctest: +SKIP
    >>> len(reach.content), len(reach.manifests)             # doctest: +SKIP
    (48, 12)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile, ManifestEntry, ManifestFile
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

READ_THREADS = 8
_SCHEME_EQUIVALENTS = {"s3a": "s3", "s3n": "s3", "": "file"}


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
    def partition_key(self) -> tuple[int, tuple]:
        return (self.data_file.spec_id, tuple(self.data_file.partition))


@dataclass
class LiveFiles:
    """The live data and delete files of one snapshot."""

    data: list[LiveFile] = field(default_factory=list)
    deletes: list[LiveFile] = field(default_factory=list)


def read_entries(
    io: FileIO, manifests: Iterable[ManifestFile], *, live_only: bool = True
) -> dict[str, list[ManifestEntry]]:
    """Entries of each manifest (by path), read once each, in parallel."""
    unique = {m.manifest_path: m for m in manifests}
    if not unique:
        return {}
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(unique))) as pool:
        entries = pool.map(
            lambda m: m.fetch_manifest_entry(io, discard_deleted=live_only), unique.values()
        )
        return dict(zip(unique, entries, strict=True))


def live_files(table: Table, snapshot: Snapshot | None) -> LiveFiles:
    """The live data and delete files of ``snapshot`` (nothing for None)."""
    from pyiceberg.manifest import DataFileContent

    result = LiveFiles()
    if snapshot is None:
        return result
    for path, entries in read_entries(table.io, snapshot.manifests(table.io)).items():
        for entry in entries:
            live = LiveFile(entry.data_file, entry.sequence_number or 0, entry.snapshot_id, path)
            (
                result.data if entry.data_file.content == DataFileContent.DATA else result.deletes
            ).append(live)
    return result


def applicable_deletes(data: LiveFile, deletes: Iterable[LiveFile]) -> list[LiveFile]:
    """Delete files that apply to ``data`` under Iceberg's sequence-number rules.

    Position deletes apply to data files of the same partition with a data sequence number not
    greater than theirs; equality deletes to those with a strictly smaller one (an equality delete
    in an unpartitioned spec applies to every partition).
    """
    from pyiceberg.manifest import DataFileContent

    matched = []
    for delete in deletes:
        same_partition = delete.partition_key == data.partition_key
        if delete.data_file.content == DataFileContent.POSITION_DELETES:
            if same_partition and delete.data_sequence_number >= data.data_sequence_number:
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


@dataclass
class ReachableFiles:
    """Every file a table's metadata references, by kind (full URIs as written)."""

    metadata: set[str] = field(default_factory=set)
    manifest_lists: set[str] = field(default_factory=set)
    manifests: set[str] = field(default_factory=set)
    content: set[str] = field(default_factory=set)
    statistics: set[str] = field(default_factory=set)

    def all(self) -> set[str]:
        return self.metadata | self.manifest_lists | self.manifests | self.content | self.statistics


def reachable_files(
    table: Table,
    metadata: TableMetadata | None = None,
    *,
    snapshot_ids: Iterable[int] | None = None,
    metadata_location: str | None = None,
) -> ReachableFiles:
    """Files reachable from ``metadata`` (default: the table's): every snapshot of every ref
    (or only ``snapshot_ids``), their manifest lists, manifests, live data and delete files,
    the metadata log, the current metadata file and statistics files.
    """
    metadata = metadata or table.metadata
    io = table.io
    reach = ReachableFiles()
    reach.metadata.update(entry.metadata_file for entry in metadata.metadata_log)
    location = metadata_location if metadata_location is not None else table.metadata_location
    if location:
        reach.metadata.add(location)
    wanted = set(snapshot_ids) if snapshot_ids is not None else None
    for stats in (*metadata.statistics, *metadata.partition_statistics):
        if wanted is None or stats.snapshot_id in wanted:
            reach.statistics.add(stats.statistics_path)
    snapshots = [s for s in metadata.snapshots if wanted is None or s.snapshot_id in wanted]
    reach.manifest_lists.update(s.manifest_list for s in snapshots)
    manifests: dict[str, ManifestFile] = {}
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        for listed in pool.map(lambda s: s.manifests(io), snapshots):
            for manifest in listed:
                manifests.setdefault(manifest.manifest_path, manifest)
    reach.manifests.update(manifests)
    for entries in read_entries(io, manifests.values()).values():
        reach.content.update(entry.data_file.file_path for entry in entries)
    return reach


@dataclass(frozen=True)
class StoredFile:
    """A file found in storage: its URI as listed, size and last modification time."""

    path: str
    size: int
    modified: datetime


def normalize_location(uri: str) -> tuple[str, str, str]:
    """(scheme, authority, path) with s3a/s3n → s3 and file:/x, file:///x, /x → file.

    Example:
        >>> normalize_location("file:/tmp/x") == normalize_location("/tmp/x")
        True
    """
    parsed = urlparse(uri)
    scheme = _SCHEME_EQUIVALENTS.get(parsed.scheme, parsed.scheme)
    path = parsed.path if parsed.scheme else uri
    while "//" in path:
        path = path.replace("//", "/")
    return scheme, parsed.netloc if scheme != "file" else "", path.rstrip("/") or "/"


def list_storage(io: FileIO, location: str) -> list[StoredFile]:
    """Every file under ``location`` (recursively) with size and modification time.

    Uses pyarrow's filesystems configured from the table's FileIO properties, so s3://, gs://,
    abfs://, hdfs:// and file:// all work with the table's own credentials and endpoint.
    """
    from pyarrow.fs import FileSelector, FileType
    from pyiceberg.io.pyarrow import PyArrowFileIO

    arrow_io = io if isinstance(io, PyArrowFileIO) else PyArrowFileIO(io.properties)
    scheme, netloc, path = PyArrowFileIO.parse_location(location, io.properties)
    fs = arrow_io.fs_by_scheme(scheme, netloc)
    infos = fs.get_file_info(FileSelector(path, recursive=True, allow_not_found=True))
    prefix = "file://" if scheme == "file" else f"{scheme}://"
    files = []
    for info in infos:
        if info.type != FileType.File:
            continue
        modified = info.mtime or datetime.fromtimestamp(0, tz=UTC)
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        files.append(
            StoredFile(path=f"{prefix}{info.path}", size=info.size or 0, modified=modified)
        )
    return files


def delete_paths(io: FileIO, paths: Iterable[str], *, threads: int = READ_THREADS) -> list[str]:
    """Delete ``paths`` in parallel; returns the ones that failed (missing files count as gone)."""
    targets = list(paths)
    failed: list[str] = []
    local = [p for p in targets if p.startswith("file:")]
    if local:
        # Local files: unlink directly; FileIO re-parses every path and a thread per file costs
        # more than the deletion itself.
        for path in local:
            try:
                os.unlink(normalize_location(path)[2])
            except FileNotFoundError:
                continue
            except OSError:
                failed.append(path)
        targets = [p for p in targets if not p.startswith("file:")]

    def _delete(path: str) -> None:
        try:
            io.delete(path)
        except FileNotFoundError:
            return
        except OSError:
            failed.append(path)

    if targets:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(targets)))) as pool:
            list(pool.map(_delete, targets))
    return failed
