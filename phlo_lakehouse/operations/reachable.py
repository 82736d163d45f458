"""The reachable set: every file any snapshot of any ref references (data, delete, manifests,
manifest lists), read as one tree of manifests.

Each manifest is read once however many snapshots share it, in parallel threads, and not at all
when its manifest list entry says it holds no live file (only DELETED entries); on S3 each file is
one GET (`phlo_lakehouse.storage.reads`).

Example:
    >>> reach = reachable_files(table.table)                 # doctest: +SKIP
    >>> len(reach.content), len(reach.manifests)             # doctest: +SKIP
    (48, 12)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from phlo_lakehouse._upstream.avro_manifests import manifest_content_paths, manifest_list_live
from phlo_lakehouse.operations.gc_pause import gc_paused
from phlo_lakehouse.storage.listing import threads_for
from phlo_lakehouse.storage.parallel import parallel_map
from phlo_lakehouse.storage.reads import read_bytes

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot


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
    distinct manifest's live (file path, content) entries, every file read at most once (a
    manifest of DELETED entries only is not read: it has no live entry)."""

    manifests: list[list[str]]
    content: dict[str, list[tuple[str, int]]]

    @classmethod
    def read(cls, io: FileIO, snapshots: Sequence[Snapshot], location: str) -> ManifestTree:
        threads = threads_for(location)

        def read(path: str) -> bytes:
            return read_bytes(io, path)

        listed = parallel_map(
            lambda snapshot: manifest_list_live(io, snapshot.manifest_list, read=read),
            snapshots,
            threads,
        )
        live: dict[str, bool] = {}
        for rows in listed:
            for path, may_hold_live in rows:
                live[path] = live.get(path, False) or may_hold_live
        manifests = sorted(path for path, may_hold_live in live.items() if may_hold_live)
        entries = parallel_map(
            lambda m: manifest_content_paths(io, m, read=read), manifests, threads
        )
        content: dict[str, list[tuple[str, int]]] = {path: [] for path in sorted(live)}
        content.update(zip(manifests, entries, strict=True))
        return cls([[path for path, _ in rows] for rows in listed], content)
