"""Which files a table references (live entries, the reachable set) and which files storage holds.

Each manifest is read once however many snapshots share it, in parallel threads.

Example:
    >>> reach = reachable_files(table.table)                 # doctest: +SKIP
    >>> len(reach.content), len(reach.manifests)             # doctest: +SKIP
    (48, 12)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from phlo_lakehouse.operations.gc_pause import gc_paused
from phlo_lakehouse.operations.manifest_paths import manifest_content_paths, manifest_list_paths
from phlo_lakehouse.retry import STORAGE_RETRY, is_transient

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile, ManifestEntry, ManifestFile
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

READ_THREADS = 8
#: Directory levels `list_storage` lists one at a time before listing each subtree in parallel.
LISTING_LEVELS = 2
T = TypeVar("T")
R = TypeVar("R")
_SCHEME_EQUIVALENTS = {"s3a": "s3", "s3n": "s3", "": "file"}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


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


def threads_for(location: str) -> int:
    """Threads to read metadata files at ``location`` with: one for local files (reading them is
    Avro decoding under the GIL, where threads only contend), `READ_THREADS` for remote storage
    (where each read mostly waits on the network)."""
    return 1 if normalize_location(location)[0] == "file" else READ_THREADS


def live_files(table: Table, snapshot: Snapshot | None) -> LiveFiles:
    """The live data and delete files of ``snapshot`` (nothing for None)."""
    from pyiceberg.manifest import DataFileContent

    result = LiveFiles()
    if snapshot is None:
        return result
    with gc_paused():  # thousands of entry records
        result.entries = read_entries(table.io, snapshot.manifests(table.io))
        for path, entries in result.entries.items():
            for entry in entries:
                live = LiveFile(
                    entry.data_file, entry.sequence_number or 0, entry.snapshot_id, path
                )
                data = entry.data_file.content == DataFileContent.DATA
                (result.data if data else result.deletes).append(live)
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
    with gc_paused():  # thousands of paths and entry tuples
        return _reachable_files(table, metadata or table.metadata, snapshot_ids, metadata_location)


def _reachable_files(
    table: Table,
    metadata: TableMetadata,
    snapshot_ids: Iterable[int] | None,
    metadata_location: str | None,
) -> ReachableFiles:
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
    tree = ManifestTree.read(io, snapshots, metadata.location)
    reach.manifests.update(tree.content)
    for entries in tree.content.values():
        reach.content.update(path for path, _ in entries)
    return reach


@dataclass(frozen=True)
class ManifestTree:
    """What ``snapshots`` reference, paths only: each snapshot's manifests (in order) and each
    distinct manifest's live (file path, content) entries, every file read once."""

    manifests: list[list[str]]
    content: dict[str, list[tuple[str, int]]]

    @classmethod
    def read(cls, io: FileIO, snapshots: Sequence[Snapshot], location: str) -> ManifestTree:
        threads = threads_for(location)
        listed = parallel_map(
            lambda snapshot: manifest_list_paths(io, snapshot.manifest_list), snapshots, threads
        )
        manifests = sorted({path for paths in listed for path in paths})
        entries = parallel_map(lambda m: manifest_content_paths(io, m), manifests, threads)
        return cls(listed, dict(zip(manifests, entries, strict=True)))


def parallel_map(fn: Callable[[T], R], items: Sequence[T], threads: int = READ_THREADS) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``threads`` threads, in order."""
    if len(items) < 2 or threads < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file found in storage: its URI as listed, size, last modification time (ns since the
    epoch; `modified` as a datetime) and its `normalize_location` form."""

    path: str
    size: int
    modified_ns: int
    location: tuple[str, str, str]

    @property
    def modified(self) -> datetime:
        return datetime.fromtimestamp(self.modified_ns / 1e9, tz=UTC)


def normalize_location(uri: str) -> tuple[str, str, str]:
    """(scheme, authority, path) with s3a/s3n → s3 and file:/x, file:///x, /x → file.

    Plain string handling, not ``urllib``: object keys may hold ``?``, ``#`` or ``;``, which
    are part of the path here (a URL parser would cut them off), and vacuum normalizes every
    listed file, so this must be cheap.

    Example:
        >>> normalize_location("file:/tmp/x") == normalize_location("/tmp/x")
        True
        >>> normalize_location("s3a://bucket/a//b#1/")
        ('s3', 'bucket', '/a/b#1')
    """
    scheme, authority, path = "", "", uri
    prefix = _SCHEME.match(uri)
    if prefix:
        scheme, path = prefix.group(1).lower(), uri[prefix.end() :]
        if path.startswith("//"):
            authority, slash, rest = path[2:].partition("/")
            path = slash + rest
    scheme = _SCHEME_EQUIVALENTS.get(scheme, scheme)
    if scheme == "file":
        authority = ""
    while "//" in path:
        path = path.replace("//", "/")
    return scheme, authority, path.rstrip("/") or "/"


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
    prefix = "file://" if scheme == "file" else f"{scheme}://"
    file_type, directory_type = FileType.File, FileType.Directory

    def stored(infos: Iterable[Any]) -> list[StoredFile]:
        return [
            _stored(prefix + info.path, info.path, info.size or 0, info.mtime_ns or 0, scheme)
            for info in infos
            if info.type == file_type
        ]

    # The top LISTING_LEVELS directory levels one by one, then each directory found there
    # recursively, several at a time (object stores list a prefix page by page; local
    # listings release the GIL while in the filesystem).
    def listing(directory: str, recursive: bool = False) -> list[Any]:
        # A throttled or dropped listing is listed again (the one retry layer): a listing
        # that gave up would only keep files, but the operation would fail for nothing.
        return STORAGE_RETRY.call(
            lambda: fs.get_file_info(
                FileSelector(directory, recursive=recursive, allow_not_found=True)
            ),
            retry_if=is_transient,
        ).value

    files: list[StoredFile] = []
    directories = [path]
    for _ in range(LISTING_LEVELS):
        below: list[str] = []
        for directory in directories:
            infos = listing(directory)
            files += stored(infos)
            below += [info.path for info in infos if info.type == directory_type]
        directories = below

    def subtree(directory: str) -> list[StoredFile]:
        return stored(listing(directory, recursive=True))

    threads = 4 if scheme == "file" else READ_THREADS
    for found in parallel_map(subtree, directories, threads):
        files += found
    return files


def _stored(uri: str, listed: str, size: int, mtime_ns: int, scheme: str) -> StoredFile:
    """A listed file; its normalized location straight from the listing's own path (the
    filesystem path, or ``bucket/key`` for object stores), without parsing the URI."""
    if "//" in listed or listed.endswith("/"):
        return StoredFile(uri, size, mtime_ns, normalize_location(uri))
    if scheme == "file":
        return StoredFile(uri, size, mtime_ns, ("file", "", listed))
    authority, _, key = listed.partition("/")
    location = (_SCHEME_EQUIVALENTS.get(scheme, scheme), authority, f"/{key}")
    return StoredFile(uri, size, mtime_ns, location)
