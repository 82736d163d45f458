"""Generated tables for ``benchmarks/maintenance.py``, built once and restored for every run.

All tables live in one embedded lakehouse under ``benchmarks/.work/maintenance/live`` (one SQLite
catalog, one warehouse), so a single Spark catalog sees them all. Iceberg metadata stores absolute
paths, so a copy of a table is only identical if it sits at the same path: after a table is built,
its directory is hard-linked into ``.work/maintenance/pristine/<table>`` and its catalog row is
saved in ``pristine/<table>.json``. `restore` puts that state back (hard links again, and the
catalog row rewritten through SQLite, so open Spark JDBC connections see it) before each engine
runs. No engine modifies an existing file in place (they write new files and delete old ones), so
the hard links are safe and restores take well under a second.

Tables (``bench.<kind>_<size>``):

* ``optimize_<files>`` - ``files`` small Parquet files (5,000 rows, ~145 KB each) over 8 identity
  partitions, written by a process pool and registered in one fast-append commit.
* ``expire_<snapshots>`` - ``snapshots`` snapshots of a table whose single tiny data file is
  replaced by every commit (like a refreshed dimension): snapshot k has an "added" manifest for
  file k and a "deleted" manifest for file k-1, so every snapshot has O(1) manifests and expiry
  work is linear in the snapshot count. Data files and manifests are written by a process pool
  with PyIceberg's writers; the snapshots are committed in batches of `EXPIRE_BATCH` through the
  catalog (``AddSnapshot`` + ``SetSnapshotRef main`` per snapshot, the same updates a
  fast append commits). PyIceberg's own ``Transaction`` deep-copies the whole table metadata
  ~14 times per commit, which makes 2,000 one-by-one commits take hours.
* ``vacuum_<orphans>`` - ~1,100 live files (data files written by a pool and committed in
  `VACUUM_COMMITS` fast appends, plus their manifests, manifest lists and metadata files) and
  ``orphans`` planted files (90 % Parquet under ``data/``, 10 % Avro under ``metadata/``) whose
  modification time is set `ORPHAN_AGE` in the past.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

WORK = Path(__file__).resolve().parent / ".work" / "maintenance"
LIVE = WORK / "live"
PRISTINE = WORK / "pristine"
NAMESPACE = "bench"
FORMAT = 4  # bump to invalidate every cached table

PARTITIONS = 8
OPTIMIZE_ROWS_PER_FILE = 5_000
EXPIRE_ROWS_PER_FILE = 5
EXPIRE_BATCH = 100
VACUUM_COMMITS = 12
VACUUM_ROWS_PER_FILE = 50
ORPHAN_AGE = timedelta(days=10)
ORPHAN_BYTES = 512
CHUNK = 50

WORKER: dict[str, Any] = {}


# -- catalog and paths ----------------------------------------------------------------------------


def settings() -> Any:
    from phlo_lakehouse import CatalogSettings

    return CatalogSettings.embedded(LIVE)


def lakehouse() -> Any:
    from phlo_lakehouse import IcebergLakehouse

    return IcebergLakehouse(settings())


def local_path(uri: str) -> str:
    """``file:///x`` / ``file:/x`` / ``/x`` -> ``/x``."""
    return urlparse(uri).path if uri.startswith("file:") else uri


@dataclass(frozen=True)
class TableSpec:
    kind: str  # optimize | expire | vacuum
    size: int  # files | snapshots | orphans
    live_files: int = 0  # vacuum only: data files to commit

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.size}"

    @property
    def identifier(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    def params(self) -> dict[str, Any]:
        return {"format": FORMAT, "kind": self.kind, "size": self.size, "live": self.live_files}


def marker_path(spec: TableSpec) -> Path:
    return PRISTINE / f"{spec.name}.json"


def read_marker(spec: TableSpec) -> dict[str, Any] | None:
    try:
        marker = json.loads(marker_path(spec).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("params") != spec.params() or not (PRISTINE / spec.name).is_dir():
        return None
    if not marker.get("location", "").startswith(f"file://{LIVE}"):
        return None  # the work directory moved: absolute paths in the metadata are wrong
    return marker


def ensure(spec: TableSpec, workers: int, rebuild: bool = False) -> tuple[dict[str, Any], bool]:
    """The table's marker, building (and caching) the table first when needed."""
    marker = None if rebuild else read_marker(spec)
    if marker is not None:
        restore(spec, marker)
        return marker, True
    return build(spec, workers), False


def _catalog_db() -> Path:
    return LIVE / "catalog.db"


def catalog_row(identifier: str) -> tuple[str, str | None] | None:
    with sqlite3.connect(_catalog_db(), timeout=60) as db:
        return db.execute(
            "SELECT metadata_location, previous_metadata_location FROM iceberg_tables "
            "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
            (settings().name, NAMESPACE, identifier.split(".", 1)[1]),
        ).fetchone()


def restore(spec: TableSpec, marker: dict[str, Any] | None = None) -> None:
    """Put the table back exactly as built: files (hard links) and catalog row."""
    marker = marker or read_marker(spec)
    if marker is None:
        raise RuntimeError(f"no pristine copy of {spec.identifier}; build it first")
    live_dir = Path(local_path(marker["location"]))
    shutil.rmtree(live_dir, ignore_errors=True)
    live_dir.parent.mkdir(parents=True, exist_ok=True)
    link_tree(PRISTINE / spec.name, live_dir)
    lh = lakehouse()
    catalog = lh.catalog()
    catalog.create_namespace_if_not_exists(NAMESPACE)
    if catalog_row(spec.identifier) is None:
        catalog.register_table(spec.identifier, marker["metadata_location"])
    with sqlite3.connect(_catalog_db(), timeout=60) as db:
        db.execute(
            "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
            "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
            (
                marker["metadata_location"],
                marker["previous_metadata_location"],
                settings().name,
                NAMESPACE,
                spec.name,
            ),
        )
    dispose_catalog(catalog)


def dispose_catalog(catalog: Any) -> None:
    engine = getattr(catalog, "engine", None)
    if engine is not None:
        engine.dispose()


def link_tree(src: Path, dst: Path) -> None:
    """``cp -al src dst`` (hard links; file times are shared with the source)."""
    for root, _, files in os.walk(src):
        rel = os.path.relpath(root, src)
        target = dst if rel == "." else dst / rel
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(os.path.join(root, name), target / name)


def table_dir(marker: dict[str, Any]) -> Path:
    return Path(local_path(marker["location"]))


# -- building -------------------------------------------------------------------------------------


def bench_schema() -> tuple[Any, Any]:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import (
        DoubleType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestamptzType,
    )

    schema = Schema(
        NestedField(1, "id", LongType(), required=False),
        NestedField(2, "part", IntegerType(), required=False),
        NestedField(3, "event_time", TimestamptzType(), required=False),
        NestedField(4, "user_id", LongType(), required=False),
        NestedField(5, "amount", DoubleType(), required=False),
        NestedField(6, "category", StringType(), required=False),
        NestedField(7, "session", StringType(), required=False),
    )
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "part"))
    return schema, spec


def build(spec: TableSpec, workers: int) -> dict[str, Any]:
    """Build ``spec`` at its live location, copy it into the pristine store; its marker."""
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
    from pyiceberg.table import TableProperties

    started = time.perf_counter()
    lh = lakehouse()
    catalog = lh.catalog()
    catalog.create_namespace_if_not_exists(NAMESPACE)
    try:
        old = catalog.load_table(spec.identifier)
        shutil.rmtree(local_path(old.location()), ignore_errors=True)
        catalog.drop_table(spec.identifier)
    except NoSuchTableError:
        pass
    shutil.rmtree(PRISTINE / spec.name, ignore_errors=True)
    marker_path(spec).unlink(missing_ok=True)
    schema, partition_spec = bench_schema()
    if spec.kind == "expire":
        partition_spec = UNPARTITIONED_PARTITION_SPEC
    table = catalog.create_table(
        spec.identifier,
        schema=schema,
        partition_spec=partition_spec,
        properties={TableProperties.DEFAULT_NAME_MAPPING: schema.name_mapping.model_dump_json()},
    )
    shutil.rmtree(local_path(table.location()) + "/data", ignore_errors=True)
    builder = {"optimize": _build_optimize, "expire": build_expire_table, "vacuum": _build_vacuum}
    timings = builder[spec.kind](table, spec, workers)
    table = catalog.load_table(spec.identifier)
    row = catalog_row(spec.identifier)
    assert row is not None
    dispose_catalog(catalog)
    tmp = PRISTINE / f".{spec.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    link_tree(Path(local_path(table.location())), tmp)
    tmp.rename(PRISTINE / spec.name)
    marker = {
        "params": spec.params(),
        "table": spec.identifier,
        "location": table.location(),
        "metadata_location": row[0],
        "previous_metadata_location": row[1],
        "build_s": round(time.perf_counter() - started, 2),
        "workers": workers,
        **{k: round(v, 2) for k, v in timings.items()},
    }
    marker_path(spec).write_text(json.dumps(marker, indent=2))
    return marker


def _init_worker(metadata_json: str) -> None:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.table.metadata import TableMetadataUtil

    metadata = TableMetadataUtil.parse_raw(metadata_json)
    WORKER.update(metadata=metadata, arrow_schema=metadata.schema().as_arrow(), io=PyArrowFileIO())


def make_rows(index: int, rows: int, part: int) -> Any:
    """Deterministic rows of file ``index``: ~29 bytes a row once zstd-compressed."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(index)
    first = index * rows
    categories = np.array([f"category-{k:02d}" for k in range(40)], dtype=object)
    return pa.table(
        {
            "id": pa.array(np.arange(first, first + rows, dtype=np.int64)),
            "part": pa.array(np.full(rows, part, dtype=np.int32)),
            "event_time": pa.array(
                1_767_225_600_000_000 + np.sort(rng.integers(0, 86_400_000_000, rows)),
                pa.timestamp("us", tz="UTC"),
            ),
            "user_id": pa.array(rng.integers(0, 1_000_000, rows, dtype=np.int64)),
            "amount": pa.array(np.round(rng.gamma(2.0, 20.0, rows), 2)),
            "category": pa.array(categories[rng.integers(0, 40, rows)]),
            "session": pa.array(
                np.char.mod("%016x", rng.integers(0, 2**62, rows, dtype=np.int64)).astype(object)
            ),
        },
        schema=WORKER["arrow_schema"],
    )


def _write_files(task: tuple[str, int, int, int, int]) -> list[Any]:
    """Write data files ``start..stop-1`` of ``rows`` rows under ``data_dir``; their DataFiles."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    data_dir, start, stop, rows, partitions = task
    metadata = WORKER["metadata"]
    out = []
    for i in range(start, stop):
        part = i % partitions
        folder = os.path.join(data_dir, f"part={part}") if partitions > 1 else data_dir
        path = os.path.join(folder, f"{i:06d}-bench.parquet")
        pq.write_table(make_rows(i, rows, part), path, compression="zstd")
        data_file = parquet_file_to_data_file(WORKER["io"], metadata, f"file://{path}")
        data_file.spec_id = metadata.default_spec_id
        out.append(data_file)
    return out


def _write_data_files(table: Any, n: int, rows: int, partitions: int, workers: int) -> list[Any]:
    data_dir = os.path.join(local_path(table.location()), "data")
    for part in range(partitions):
        os.makedirs(
            os.path.join(data_dir, f"part={part}") if partitions > 1 else data_dir, exist_ok=True
        )
    tasks = [(data_dir, s, min(s + CHUNK, n), rows, partitions) for s in range(0, n, CHUNK)]
    files: list[Any] = []
    with _pool(table, workers) as pool:
        for done in pool.imap(_write_files, tasks):
            files.extend(done)
    return files


def _pool(table: Any, workers: int) -> Any:
    ctx = mp.get_context("spawn")
    return ctx.Pool(workers, initializer=_init_worker, initargs=(table.metadata.model_dump_json(),))


def _fast_append(table: Any, files: list[Any]) -> None:
    with table.transaction() as tx:
        with tx.update_snapshot().fast_append() as append:
            for data_file in files:
                append.append_data_file(data_file)


def _build_optimize(table: Any, spec: TableSpec, workers: int) -> dict[str, float]:
    started = time.perf_counter()
    files = _write_data_files(table, spec.size, OPTIMIZE_ROWS_PER_FILE, PARTITIONS, workers)
    written = time.perf_counter()
    _fast_append(table, files)
    return {"write_s": written - started, "commit_s": time.perf_counter() - written}


def _build_vacuum(table: Any, spec: TableSpec, workers: int) -> dict[str, float]:
    started = time.perf_counter()
    files = _write_data_files(table, spec.live_files, VACUUM_ROWS_PER_FILE, PARTITIONS, workers)
    written = time.perf_counter()
    per_commit = -(-len(files) // VACUUM_COMMITS)
    for start in range(0, len(files), per_commit):
        _fast_append(table, files[start : start + per_commit])
    committed = time.perf_counter()
    root = local_path(table.location())
    old = time.time() - ORPHAN_AGE.total_seconds()
    payload = os.urandom(ORPHAN_BYTES)
    for i in range(spec.size):
        if i % 10 == 9:
            path = os.path.join(root, "metadata", f"orphan-{i:06d}-m0.avro")
        else:
            path = os.path.join(root, "data", f"part={i % PARTITIONS}", f"orphan-{i:06d}.parquet")
        with open(path, "wb") as f:
            f.write(payload)
        os.utime(path, (old, old))
    return {
        "write_s": written - started,
        "commit_s": committed - written,
        "plant_s": time.perf_counter() - committed,
    }


# -- the expire table: snapshot k replaces file k-1 by file k -------------------------------------


def _snapshot_ids(n: int) -> list[int]:
    import random

    rng = random.Random(20260101)
    ids: set[int] = set()
    out = []
    while len(out) < n:
        i = rng.getrandbits(62) + 1
        if i not in ids:
            ids.add(i)
            out.append(i)
    return out


def _write_snapshot_manifests(
    task: tuple[int, int, list[int], list[Any]],
) -> list[tuple[str, int]]:
    """For snapshots ``start..stop-1``: the manifests and manifest list; their paths and sizes."""
    from pyiceberg.manifest import (
        ManifestEntry,
        ManifestEntryStatus,
        write_manifest,
        write_manifest_list,
    )

    start, stop, ids, data_files = task  # ids/data_files cover start-1..stop-1
    metadata = WORKER["metadata"]
    io = WORKER["io"]
    schema, spec = metadata.schema(), metadata.spec()
    meta_dir = f"{metadata.location}/metadata"
    out = []
    for k in range(start, stop):
        j = k - start + 1  # index into ids/data_files
        commit = uuid.uuid4()
        manifests = []
        added = write_manifest(
            2, spec, schema, io.new_output(f"{meta_dir}/{commit}-m0.avro"), ids[j], "gzip"
        )
        with added as writer:
            writer.add_entry(
                ManifestEntry.from_args(
                    status=ManifestEntryStatus.ADDED,
                    snapshot_id=ids[j],
                    sequence_number=None,
                    file_sequence_number=None,
                    data_file=data_files[j],
                )
            )
        manifests.append(added.to_manifest_file())
        if k > 0:
            deleted = write_manifest(
                2, spec, schema, io.new_output(f"{meta_dir}/{commit}-m1.avro"), ids[j], "gzip"
            )
            with deleted as writer:
                writer.add_entry(
                    ManifestEntry.from_args(
                        status=ManifestEntryStatus.DELETED,
                        snapshot_id=ids[j],
                        sequence_number=k,
                        file_sequence_number=k,
                        data_file=data_files[j - 1],
                    )
                )
            manifests.append(deleted.to_manifest_file())
        output = io.new_output(f"{meta_dir}/snap-{ids[j]}-1-{commit}.avro")
        with write_manifest_list(
            2, output, ids[j], ids[j - 1] if k > 0 else None, k + 1, "gzip"
        ) as writer:
            writer.add_manifests(manifests)
        out.append((output.location, k))
    return out


def build_expire_table(
    table: Any,
    spec: TableSpec,
    workers: int,
    write_files: Any = None,
    map_unordered: Any = None,
) -> dict[str, float]:
    """The expire table; ``write_files(table, n, rows)`` (data files) and ``map_unordered(fn,
    tasks)`` (manifest writing) default to the local process pool (object stores pass their own)."""
    from pyiceberg.table.snapshots import Operation, Snapshot, Summary
    from pyiceberg.table.update import AddSnapshotUpdate, AssertRefSnapshotId, SetSnapshotRefUpdate

    from phlo_lakehouse.operations.commit import commit_updates

    n = spec.size
    started = time.perf_counter()
    if write_files is None:
        files = _write_data_files(table, n, EXPIRE_ROWS_PER_FILE, 1, workers)
        os.makedirs(os.path.join(local_path(table.location()), "metadata"), exist_ok=True)
    else:
        files = write_files(table, n, EXPIRE_ROWS_PER_FILE)
    written = time.perf_counter()
    ids = _snapshot_ids(n)
    tasks = []
    for s in range(0, n, CHUNK):
        e = min(s + CHUNK, n)
        lo = max(s - 1, 0)
        pad = [] if s > 0 else [None]
        tasks.append((s, e, pad + ids[lo:e], pad + files[lo:e]))
    lists: dict[int, str] = {}
    if map_unordered is None:
        with _pool(table, workers) as pool:
            for done in pool.imap_unordered(_write_snapshot_manifests, tasks):
                lists.update({k: loc for loc, k in done})
    else:
        for done in map_unordered(_write_snapshot_manifests, tasks):
            lists.update({k: loc for loc, k in done})
    manifested = time.perf_counter()

    # Timestamps as the commits happen (strictly increasing): the metadata log starts at the
    # table's creation, and Iceberg (Java) rejects metadata whose log runs backwards in time.
    last_ms = table.metadata.last_updated_ms
    head: int | None = None
    for s in range(0, n, EXPIRE_BATCH):
        updates: list[Any] = []
        for k in range(s, min(s + EXPIRE_BATCH, n)):
            size = files[k].file_size_in_bytes
            previous = files[k - 1] if k else None
            summary = {
                "added-data-files": "1",
                "added-records": str(files[k].record_count),
                "added-files-size": str(size),
                "total-data-files": "1",
                "total-delete-files": "0",
                "total-records": str(files[k].record_count),
                "total-files-size": str(size),
                "total-position-deletes": "0",
                "total-equality-deletes": "0",
            }
            if previous is not None:
                summary.update(
                    {
                        "deleted-data-files": "1",
                        "deleted-records": str(previous.record_count),
                        "removed-files-size": str(previous.file_size_in_bytes),
                    }
                )
            last_ms = max(last_ms + 1, int(time.time() * 1000))
            snapshot = Snapshot(
                snapshot_id=ids[k],
                parent_snapshot_id=ids[k - 1] if k else None,
                sequence_number=k + 1,
                timestamp_ms=last_ms,
                manifest_list=lists[k],
                summary=Summary(
                    operation=Operation.OVERWRITE if k else Operation.APPEND, **summary
                ),
                schema_id=table.metadata.current_schema_id,
            )
            updates += [
                AddSnapshotUpdate(snapshot=snapshot),
                SetSnapshotRefUpdate(ref_name="main", type="branch", snapshot_id=ids[k]),
            ]
        requirements = [AssertRefSnapshotId(ref="main", snapshot_id=head)]
        commit_updates(table, updates, requirements)
        head = ids[min(s + EXPIRE_BATCH, n) - 1]
    return {
        "write_s": written - started,
        "manifests_s": manifested - written,
        "commit_s": time.perf_counter() - manifested,
    }
