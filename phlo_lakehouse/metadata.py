"""`TableMetadata` and `MetadataCollector`: table statistics for any ref.

The fast path reads only the ref's snapshot summary (``total-records``, ``total-data-files``,
``total-files-size``, ``total-delete-files`` …): O(1) in the number of files. The full path reads
the ref's manifests for what the summary lacks (partition count, small files, size histogram).
Each result lists the figures that are exact in ``exact``.

Example:
    >>> stats = MetadataCollector().collect(lakehouse.get_table("raw.events"))   # doctest: +SKIP
    >>> stats.row_count, "partition_count" in stats.exact                       # doctest: +SKIP
    (1000, False)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.table import LakehouseTable

if TYPE_CHECKING:
    from pyiceberg.manifest import ManifestFile
    from pyiceberg.table import Table
    from pyiceberg.typedef import Record

TARGET_FILE_SIZE_PROPERTY = "write.target-file-size-bytes"
DEFAULT_TARGET_FILE_SIZE = 512 * 1024 * 1024
SMALL_FILE_FRACTION = 0.75
_MIB = 1024 * 1024
_HISTOGRAM_EDGES = (
    (1 * _MIB, "<1MiB"),
    (8 * _MIB, "1-8MiB"),
    (32 * _MIB, "8-32MiB"),
    (128 * _MIB, "32-128MiB"),
    (512 * _MIB, "128-512MiB"),
)
_FAST_FIELDS = ("size_bytes", "file_count", "delete_file_count", "snapshot_count", "last_modified")


def target_file_size(table: Table) -> int:
    """The table's ``write.target-file-size-bytes``, else Iceberg's default of 512 MiB."""
    return _target_file_size(table.properties)


def _target_file_size(properties: Mapping[str, str]) -> int:
    raw = properties.get(TARGET_FILE_SIZE_PROPERTY)
    try:
        return int(raw) if raw is not None else DEFAULT_TARGET_FILE_SIZE
    except ValueError:
        return DEFAULT_TARGET_FILE_SIZE


def partition_values(partition: Record) -> tuple[Any, ...]:
    """The values of a partition `Record` (which iterates only by ``__getitem__``, untyped)."""
    return tuple(partition[position] for position in range(len(partition)))


@dataclass(frozen=True)
class TableMetadata:
    """Statistics of one table on one ref; ``None`` marks a figure this path does not know.

    ``row_count`` counts records in data files; with delete files present the live count is lower,
    so it is then not in ``exact``. ``size_bytes`` covers data and delete files.
    """

    identifier: str
    ref: str
    snapshot_id: int | None
    row_count: int | None
    file_count: int | None
    delete_file_count: int | None
    size_bytes: int | None
    snapshot_count: int
    last_modified: datetime | None
    target_file_size: int
    mode: str
    partition_count: int | None = None
    small_file_count: int | None = None
    small_file_ratio: float | None = None
    average_file_size: float | None = None
    position_delete_count: int | None = None
    equality_delete_count: int | None = None
    file_size_histogram: dict[str, int] | None = None
    exact: frozenset[str] = field(default_factory=frozenset)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (timestamps as ISO-8601, ``exact`` as a sorted list)."""
        data = asdict(self)
        data["last_modified"] = self.last_modified.isoformat() if self.last_modified else None
        data["exact"] = sorted(self.exact)
        return data


def summary_stats(
    *,
    identifier: str,
    ref: str,
    snapshot_id: int | None,
    summary: Mapping[str, str] | None,
    snapshot_count: int,
    timestamp_ms: int,
    properties: Mapping[str, str],
) -> TableMetadata:
    """The fast-path statistics from a snapshot summary (``summary`` None: no snapshot yet).

    Example:
        >>> summary_stats(identifier="raw.a", ref="main", snapshot_id=1, snapshot_count=1,
        ...     summary={"total-records": "10", "total-data-files": "2",
        ...              "total-files-size": "2048", "total-delete-files": "0"},
        ...     timestamp_ms=0, properties={}).average_file_size
        1024.0
    """
    empty = summary is None
    values = summary or {}

    def total(key: str) -> int | None:
        if empty:
            return 0
        value = values.get(key)
        return int(value) if value is not None else None

    files, deletes, size = (
        total("total-data-files"),
        total("total-delete-files"),
        total("total-files-size"),
    )
    exact = {f for f in _FAST_FIELDS if f in ("snapshot_count", "last_modified")}
    exact.update(
        name
        for name, value in (
            ("file_count", files),
            ("delete_file_count", deletes),
            ("size_bytes", size),
        )
        if value is not None
    )
    rows = total("total-records")
    if rows is not None and deletes == 0:
        exact.add("row_count")
    average = None
    if files and size is not None and deletes == 0:
        average = size / files
        exact.add("average_file_size")
    elif files == 0 and deletes == 0:
        average = 0.0
    return TableMetadata(
        identifier=identifier,
        ref=ref,
        snapshot_id=snapshot_id,
        row_count=rows,
        file_count=files,
        delete_file_count=deletes,
        size_bytes=size,
        snapshot_count=snapshot_count,
        last_modified=datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC),
        target_file_size=_target_file_size(properties),
        mode="fast",
        average_file_size=average,
        position_delete_count=total("total-position-deletes"),
        equality_delete_count=total("total-equality-deletes"),
        exact=frozenset(exact),
    )


class MetadataCollector:
    """Collects `TableMetadata`, by the summary fast path or (``full=True``) over manifests.

    Args:
        full: read manifests for partition count, small files and size histogram.
        threads: manifests read in parallel on the full path.

    Example:
        >>> MetadataCollector(full=True).full
        True
    """

    def __init__(self, *, full: bool = False, threads: int = 8) -> None:
        self.full = full
        self.threads = threads

    def collect(self, table: LakehouseTable) -> TableMetadata:
        """Statistics for ``table`` at its ref."""
        fast = self._fast(table)
        return self._full(table, fast) if self.full else fast

    def _fast(self, handle: LakehouseTable) -> TableMetadata:
        table = handle.table
        snapshot = handle.snapshot
        summary: dict[str, str] | None = None
        if snapshot is not None:
            summary = dict(snapshot.summary.additional_properties) if snapshot.summary else {}
        return summary_stats(
            identifier=str(handle.identifier),
            ref=handle.ref,
            snapshot_id=handle.snapshot_id,
            summary=summary,
            snapshot_count=len(table.metadata.snapshots),
            timestamp_ms=snapshot.timestamp_ms
            if snapshot is not None
            else table.metadata.last_updated_ms,
            properties=table.properties,
        )

    def _full(self, handle: LakehouseTable, fast: TableMetadata) -> TableMetadata:
        snapshot = handle.snapshot
        manifests = snapshot.manifests(handle.table.io) if snapshot is not None else []
        with ThreadPoolExecutor(max_workers=max(1, self.threads)) as pool:
            parts = list(pool.map(lambda m: _manifest_figures(handle.table, m), manifests))
        data_sizes: list[int] = []
        partitions: set[tuple[int, tuple[Any, ...]]] = set()
        records = pos_deletes = eq_deletes = delete_files = delete_bytes = 0
        for figures in parts:
            data_sizes.extend(figures["data_sizes"])
            partitions.update(figures["partitions"])
            records += figures["records"]
            pos_deletes += figures["position_deletes"]
            eq_deletes += figures["equality_deletes"]
            delete_files += figures["delete_files"]
            delete_bytes += figures["delete_bytes"]
        threshold = fast.target_file_size * SMALL_FILE_FRACTION
        small = sum(1 for s in data_sizes if s < threshold)
        histogram = Counter(_bucket(s) for s in data_sizes)
        exact = set(fast.exact) | {
            "file_count",
            "delete_file_count",
            "size_bytes",
            "partition_count",
            "small_file_count",
            "small_file_ratio",
            "average_file_size",
            "position_delete_count",
            "equality_delete_count",
            "file_size_histogram",
        }
        if delete_files == 0:
            exact.add("row_count")
        return TableMetadata(
            identifier=fast.identifier,
            ref=fast.ref,
            snapshot_id=fast.snapshot_id,
            row_count=records,
            file_count=len(data_sizes),
            delete_file_count=delete_files,
            size_bytes=sum(data_sizes) + delete_bytes,
            snapshot_count=fast.snapshot_count,
            last_modified=fast.last_modified,
            target_file_size=fast.target_file_size,
            mode="full",
            partition_count=len(partitions),
            small_file_count=small,
            small_file_ratio=(small / len(data_sizes)) if data_sizes else 0.0,
            average_file_size=(sum(data_sizes) / len(data_sizes)) if data_sizes else 0.0,
            position_delete_count=pos_deletes,
            equality_delete_count=eq_deletes,
            file_size_histogram={label: histogram.get(label, 0) for label in _bucket_labels()},
            exact=frozenset(exact),
        )


def _manifest_figures(table: Table, manifest: ManifestFile) -> dict[str, Any]:
    from pyiceberg.manifest import DataFileContent

    figures: dict[str, Any] = {
        "data_sizes": [],
        "partitions": set(),
        "records": 0,
        "position_deletes": 0,
        "equality_deletes": 0,
        "delete_files": 0,
        "delete_bytes": 0,
    }
    for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
        data_file = entry.data_file
        if data_file.content == DataFileContent.DATA:
            figures["data_sizes"].append(data_file.file_size_in_bytes)
            figures["records"] += data_file.record_count
            figures["partitions"].add(
                (manifest.partition_spec_id, partition_values(data_file.partition))
            )
        else:
            figures["delete_files"] += 1
            figures["delete_bytes"] += data_file.file_size_in_bytes
            key = (
                "position_deletes"
                if data_file.content == DataFileContent.POSITION_DELETES
                else "equality_deletes"
            )
            figures[key] += data_file.record_count
    return figures


def _bucket(size: int) -> str:
    for edge, label in _HISTOGRAM_EDGES:
        if size < edge:
            return label
    return ">=512MiB"


def _bucket_labels() -> list[str]:
    return [label for _, label in _HISTOGRAM_EDGES] + [">=512MiB"]
