"""Benchmark: table statistics from the snapshot summary vs. scanning manifests.

Builds (once; later runs with the same ``--files`` reuse it) an Iceberg table in an embedded
SQLite catalog whose current snapshot has N real, tiny Parquet data files spread over a few
identity partitions. Files are written by a process pool and registered in one fast-append commit.

Then it measures, on that table:

* fast path - ``IcebergLakehouse(settings).collect_stats(name)``: a fresh lakehouse object, the
  catalog lookup, loading the table metadata and reading the snapshot summary (median of 20 runs
  after a warm-up);
* baseline - ``table.inspect.files()`` on the already loaded table, i.e. reading every manifest
  entry into an Arrow table (median of 3 runs);
* full path - ``collect_stats(name, full=True)`` once (informational, skip with ``--no-full``).

Goals (exit status 1 if any fails): the fast path is at least 100x faster than the baseline and
takes under 50 ms; its ``file_count`` equals N and equals ``len(table.inspect.files())``.

Usage:
    .venv/bin/python benchmarks/stats.py [--files N] [--home DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from phlo_lakehouse import CatalogSettings, IcebergLakehouse

DEFAULT_FILES = 100_000
DEFAULT_HOME = Path(__file__).resolve().parent / ".work" / "stats"
NAMESPACE = "bench"
TABLE = f"{NAMESPACE}.stats_files"
PARTITIONS = 8
ROWS_PER_FILE = 3
CHUNK = 1_000
MARKER = "built.json"
FAST_RUNS = 20
BASELINE_RUNS = 3
GOAL_SPEEDUP = 100.0
GOAL_FAST_MS = 50.0

# Set in each worker process by _init_worker.
_WORKER: dict[str, Any] = {}


def _table_spec() -> tuple[Any, Any]:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import IntegerType, LongType, NestedField, StringType

    schema = Schema(
        NestedField(1, "id", LongType(), required=False),
        NestedField(2, "part", IntegerType(), required=False),
        NestedField(3, "value", StringType(), required=False),
    )
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "part"))
    return schema, spec


def _init_worker(metadata_json: str, data_dir: str) -> None:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.table.metadata import TableMetadataUtil

    metadata = TableMetadataUtil.parse_raw(metadata_json)
    _WORKER.update(
        metadata=metadata,
        arrow_schema=metadata.schema().as_arrow(),
        io=PyArrowFileIO(),
        data_dir=data_dir,
    )


def _write_chunk(bounds: tuple[int, int]) -> list[Any]:
    """Write files ``start..stop-1`` and return their `DataFile` entries (stats from footers)."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    start, stop = bounds
    metadata, io = _WORKER["metadata"], _WORKER["io"]
    data_files = []
    for i in range(start, stop):
        part = i % PARTITIONS
        first = i * ROWS_PER_FILE
        batch = pa.table(
            {
                "id": pa.array(range(first, first + ROWS_PER_FILE), pa.int64()),
                "part": pa.array([part] * ROWS_PER_FILE, pa.int32()),
                "value": [f"v{first + k}" for k in range(ROWS_PER_FILE)],
            },
            schema=_WORKER["arrow_schema"],
        )
        path = os.path.join(_WORKER["data_dir"], f"part={part}", f"{i:08d}.parquet")
        pq.write_table(batch, path)
        data_files.append(parquet_file_to_data_file(io, metadata, f"file://{path}"))
    return data_files


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, CHUNK):
        yield start, min(start + CHUNK, n)


def _read_marker(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return None


def build_table(home: Path, n: int, workers: int) -> dict[str, float]:
    """Create ``TABLE`` under ``home`` with ``n`` data files in one snapshot; return timings."""
    from pyiceberg.table import TableProperties

    shutil.rmtree(home, ignore_errors=True)
    data_dir = home / "data"
    for part in range(PARTITIONS):
        (data_dir / f"part={part}").mkdir(parents=True)
    catalog = IcebergLakehouse(CatalogSettings.embedded(home)).catalog()
    catalog.create_namespace(NAMESPACE)
    schema, spec = _table_spec()
    table = catalog.create_table(TABLE, schema=schema, partition_spec=spec)
    name_mapping = table.metadata.schema().name_mapping.model_dump_json()

    started = time.perf_counter()
    data_files: list[Any] = []
    ctx = mp.get_context("spawn")
    init_args = (table.metadata.model_dump_json(), str(data_dir))
    with ctx.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
        for done in pool.imap_unordered(_write_chunk, _chunks(n)):
            data_files.extend(done)
    written = time.perf_counter()

    with table.transaction() as tx:
        tx.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING: name_mapping})
        with tx.update_snapshot().fast_append() as append:
            for data_file in data_files:
                append.append_data_file(data_file)
    committed = time.perf_counter()

    timings = {"write_s": written - started, "commit_s": committed - written}
    marker = {"files": n, "table": TABLE, "workers": workers, **timings}
    (home / MARKER).write_text(json.dumps(marker, indent=2))
    return timings


def ensure_table(home: Path, n: int, workers: int, rebuild: bool) -> tuple[dict[str, float], bool]:
    """Reuse the table under ``home`` when its marker says it has ``n`` files, else build it."""
    marker = _read_marker(home)
    if not rebuild and marker is not None and marker.get("files") == n:
        return {k: marker[k] for k in ("write_s", "commit_s")}, True
    return build_table(home, n, workers), False


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def measure(home: Path, full: bool) -> dict[str, Any]:
    """Time the fast path, the ``inspect.files()`` baseline and (optionally) the full path."""
    settings = CatalogSettings.embedded(home)

    def fast() -> Any:
        return IcebergLakehouse(settings).collect_stats(TABLE)

    fast()  # warm-up: imports, SQLAlchemy engine, OS file cache
    fast_runs = [_time(fast) for _ in range(FAST_RUNS)]
    table = IcebergLakehouse(settings).get_table(TABLE).table
    table.inspect.files()  # warm-up (not counted), so both paths start warm
    baseline_runs = [_time(table.inspect.files) for _ in range(BASELINE_RUNS)]
    results: dict[str, Any] = {
        "fast_s": statistics.median(t for t, _ in fast_runs),
        "fast_max_s": max(t for t, _ in fast_runs),
        "fast_stats": fast_runs[-1][1],
        "baseline_s": statistics.median(t for t, _ in baseline_runs),
        "baseline_rows": baseline_runs[-1][1].num_rows,
    }
    if full:
        results["full_s"], results["full_stats"] = _time(
            lambda: IcebergLakehouse(settings).collect_stats(TABLE, full=True)
        )
    return results


def report(n: int, results: dict[str, Any]) -> bool:
    """Print the figures and the goal checks; return True when every goal passes."""
    fast_ms, baseline_ms = results["fast_s"] * 1000, results["baseline_s"] * 1000
    ratio = results["baseline_s"] / results["fast_s"]
    stats = results["fast_stats"]
    rows = [
        (f"fast path collect_stats (median of {FAST_RUNS})", f"{fast_ms:.2f} ms"),
        (f"  (slowest of {FAST_RUNS})", f"{results['fast_max_s'] * 1000:.2f} ms"),
        (f"baseline inspect.files() (median of {BASELINE_RUNS})", f"{baseline_ms:.2f} ms"),
    ]
    if "full_s" in results:
        rows.append(
            ("full path collect_stats(full=True) (once)", f"{results['full_s'] * 1000:.2f} ms")
        )
    rows.append(("ratio baseline / fast", f"{ratio:.1f} x"))
    print(f"\n{'measurement':<46}{'time':>14}")
    for label, value in rows:
        print(f"{label:<46}{value:>14}")
    print(
        f"\nfast path: file_count={stats.file_count} row_count={stats.row_count} "
        f"size_bytes={stats.size_bytes}; inspect.files() rows={results['baseline_rows']}"
    )
    if "full_stats" in results:
        full = results["full_stats"]
        print(
            f"full path: file_count={full.file_count} partition_count={full.partition_count} "
            f"small_file_count={full.small_file_count}"
        )

    checks = [
        (f"fast path >= {GOAL_SPEEDUP:.0f}x faster than inspect.files()", ratio >= GOAL_SPEEDUP),
        (f"fast path under {GOAL_FAST_MS:.0f} ms", fast_ms < GOAL_FAST_MS),
        (
            f"fast file_count == N == len(inspect.files()) ({n})",
            stats.file_count == n == results["baseline_rows"],
        ),
    ]
    if "full_stats" in results:
        checks.append((f"full path file_count == N ({n})", results["full_stats"].file_count == n))
    print()
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return all(ok for _, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help="data files (N)")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="catalog/warehouse dir")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="writer processes")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if the marker matches")
    parser.add_argument("--no-full", dest="full", action="store_false", help="skip the full path")
    args = parser.parse_args(argv)
    if args.files < 1:
        parser.error("--files must be at least 1")
    home = args.home.resolve()

    started = time.perf_counter()
    timings, reused = ensure_table(home, args.files, args.workers, args.rebuild)
    elapsed = time.perf_counter() - started
    if reused:
        print(
            f"reused table {TABLE} with {args.files} files in {home} (built earlier: "
            f"write {timings['write_s']:.1f} s + commit {timings['commit_s']:.1f} s)"
        )
    else:
        print(
            f"built table {TABLE} with {args.files} files in {home} in {elapsed:.1f} s "
            f"(write {timings['write_s']:.1f} s on {args.workers} processes, "
            f"commit {timings['commit_s']:.1f} s)"
        )
    return 0 if report(args.files, measure(home, args.full)) else 1


if __name__ == "__main__":
    sys.exit(main())
