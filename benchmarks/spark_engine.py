"""Benchmark: compaction on the local engine vs. the Spark engine, and where Spark starts to win.

For each size, two identical tables (the demo schema, partitioned by day over 4 days, written in
``--commits`` appends, so every partition has that many small files) are compacted with
``OptimizeOperation()`` through the executor: one on the local engine (PyIceberg + pyarrow in this
process), one on the Spark engine (``rewrite_data_files``). Wall time covers the whole run
(planning is ours in both). A warm-up compaction first, so JIT and session start-up — paid once
by a long-running Spark — do not count.

Spark runs on the Spark Connect server of ``scripts/services/spark_connect.sh`` when it answers
(tables in its catalog, dropped afterwards), else on a local SparkSession (local[2]) over an
embedded catalog in a temp dir. Both share this machine's cores with the local engine's process.

The crossover is the smallest measured size from which Spark is faster at every larger size; if
Spark never wins, a linear fit of time against size per engine estimates where the lines meet
(marked as an estimate, or "none" when Spark's time grows faster).

Usage:
    .venv/bin/python benchmarks/spark_engine.py [--rows 20000 200000 1000000] [--commits 20]
        [--remote sc://127.0.0.1:21051 | --local]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow as pa

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.engines import SparkEngine
from phlo_lakehouse.operations import OptimizeOperation
from phlo_lakehouse.units import format_size

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROWS = (20_000, 200_000, 1_000_000, 3_000_000)
DEFAULT_REMOTE = f"sc://127.0.0.1:{os.environ.get('PHLO_TEST_SPARK_CONNECT_PORT', '21051')}"


def batch(start: int, count: int) -> pa.Table:
    """``count`` demo-schema rows from id ``start``, vectorised; user ids and amounts are random
    (seeded by ``start``) so the Parquet files hold realistic, poorly compressible data."""
    import numpy as np
    import pyarrow.compute as pc

    rng = np.random.default_rng(start)
    ids = pa.array(np.arange(start, start + count, dtype=np.int64))
    day_us = 86_400 * 1_000_000
    base = 1_767_225_600 * 1_000_000  # 2026-01-01T00:00:00Z
    micros = pc.add(pc.multiply(pc.bit_wise_and(ids, 3), day_us), pc.multiply(ids, 1_000))
    kinds = pa.array(["click", "view", "buy"]).take(pc.cast(pc.remainder(ids, 3), pa.int32()))
    return pa.table(
        {
            "event_id": ids,
            "event_time": pc.cast(pc.add(micros, base), pa.timestamp("us", tz="UTC")),
            "user_id": pa.array(rng.integers(0, 1_000_000, count, dtype=np.int32)),
            "kind": kinds,
            "amount": pa.array(rng.random(count) * 1000.0),
        }
    )


def seed(lakehouse: IcebergLakehouse, name: str, rows: int, commits: int) -> None:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import DayTransform

    from phlo_lakehouse.demo import demo_schema

    catalog = lakehouse.catalog()
    namespace, _ = name.split(".")
    catalog.create_namespace_if_not_exists(namespace)
    spec = PartitionSpec(PartitionField(2, 1000, DayTransform(), "event_day"))
    table = catalog.create_table(name, schema=demo_schema(), partition_spec=spec)
    per_commit = max(1, rows // commits)
    for i in range(commits):
        table.append(batch(i * per_commit, per_commit))


def spark_engine(args: argparse.Namespace) -> tuple[IcebergLakehouse, SparkEngine, str]:
    """The lakehouse and engine to measure on, and a description of where Spark runs."""
    remote = None if args.local else args.remote
    if remote:
        host, port = remote.removeprefix("sc://").rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
        except OSError:
            print(f"no Spark Connect at {remote}; using a local SparkSession", file=sys.stderr)
            remote = None
    if remote:
        home = (
            os.environ.get("PHLO_TEST_SPARK_CONNECT_HOME") or REPO_ROOT / ".services/spark-connect"
        )
        settings = CatalogSettings.embedded(home)
        return IcebergLakehouse(settings), SparkEngine(settings, remote=remote), remote
    jars = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts/services/spark_connect.sh"), "jars"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    jars = [j for j in jars if not Path(j).name.startswith("spark-connect")]
    settings = CatalogSettings.embedded(tempfile.mkdtemp(prefix="bench-spark-"), name="bench")
    lakehouse = IcebergLakehouse(settings)
    lakehouse.catalog()
    return lakehouse, SparkEngine(settings, jars=jars), "local[2] SparkSession"


def timed_optimize(lakehouse: IcebergLakehouse, name: str, engine) -> tuple[float, dict]:
    started = time.perf_counter()
    result = lakehouse.run(OptimizeOperation(), name, engine=engine)
    elapsed = time.perf_counter() - started
    assert result.committed, result.summary()
    return elapsed, dict(result.figures)


def crossover(points: list[tuple[int, int, float, float]]) -> str:
    """Where Spark starts to win: measured, else estimated from linear fits of time on bytes."""
    for i, (rows, size, _, _) in enumerate(points):
        if all(spark < local for _, _, local, spark in points[i:]):
            return f"measured: Spark wins from {rows:,} rows ({format_size(size)}) on"
    if len(points) < 2:
        return "not reached (too few sizes to estimate)"

    def fit(values: list[float]) -> tuple[float, float]:
        xs = [float(p[1]) for p in points]
        mean_x, mean_y = sum(xs) / len(xs), sum(values) / len(values)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
        return mean_y - slope * mean_x, slope

    (a_local, b_local), (a_spark, b_spark) = (
        fit([p[2] for p in points]),
        fit([p[3] for p in points]),
    )
    largest = points[-1]
    if b_spark >= b_local:
        return (
            f"not reached up to {largest[0]:,} rows ({format_size(largest[1])}); Spark's time "
            "grows at least as fast as local's on this machine: no crossover expected"
        )
    size = (a_spark - a_local) / (b_local - b_spark)
    rows_per_byte = largest[0] / largest[1]
    return (
        f"not reached up to {largest[0]:,} rows ({format_size(largest[1])}); linear estimate: "
        f"~{format_size(size)} (~{int(size * rows_per_byte):,} rows)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(DEFAULT_ROWS))
    parser.add_argument("--commits", type=int, default=20, help="appends (files per partition)")
    parser.add_argument("--remote", default=DEFAULT_REMOTE, help="Spark Connect URL")
    parser.add_argument("--local", action="store_true", help="use a local SparkSession")
    args = parser.parse_args()

    lakehouse, engine, where = spark_engine(args)
    namespace = f"bench_{uuid.uuid4().hex[:8]}"
    print(f"Spark: {where}; cores: {os.cpu_count()}; {args.commits} commits × 4 partitions")
    try:
        seed(lakehouse, f"{namespace}.warmup", 2_000, 6)
        timed_optimize(lakehouse, f"{namespace}.warmup", engine)
        header = f"{'rows':>12} {'files':>6} {'size':>10} {'local s':>8} {'spark s':>8}  faster"
        print(header)
        points = []
        for rows in sorted(args.rows):
            local_name, spark_name = f"{namespace}.local_{rows}", f"{namespace}.spark_{rows}"
            for name in (local_name, spark_name):
                seed(lakehouse, name, rows, args.commits)
            stats = lakehouse.collect_stats(local_name)
            local_s, local_figures = timed_optimize(lakehouse, local_name, None)
            spark_s, spark_figures = timed_optimize(lakehouse, spark_name, engine)
            assert (
                local_figures["rows_to_rewrite"]
                == spark_figures["rows_to_rewrite"]
                == (rows // args.commits * args.commits)
            )
            size = stats.size_bytes or 0
            points.append((rows, size, local_s, spark_s))
            faster = "spark" if spark_s < local_s else "local"
            ratio = max(local_s, spark_s) / min(local_s, spark_s)
            print(
                f"{rows:>12,} {stats.file_count:>6} {format_size(size):>10} "
                f"{local_s:>8.2f} {spark_s:>8.2f}  {faster} ({ratio:.1f}x)",
                flush=True,
            )
        print(f"crossover: {crossover(points)}")
    finally:
        catalog = lakehouse.catalog()
        for ident in catalog.list_tables(namespace):
            catalog.purge_table(ident)
        catalog.drop_namespace(namespace)
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
