"""Benchmark: row-group stitching against the decode path and against ``cp`` of the same bytes.

The table: ``64 x scale`` Parquet files of one ~64 MB row group each (8 identity partitions,
8 files each; ~4 GB at scale 1), written once in the table's write schema (field ids, zstd)
and cached under ``benchmarks/.work/maintenance`` (the same embedded lakehouse as
``maintenance.py``; restored by hard links before every run, see ``_tables.py``).

Measured in the same run, each on a freshly restored table:

1. ``stitch``: ``OptimizeOperation(target_file_size="512MB")`` (``stitch="auto"``: the row
   groups are large, so every group is stitched) through the API in a fresh process, and the
   same through the CLI (``phlo-lakehouse optimize TABLE --target-file-size 536870912 --yes``,
   start-up included);
2. ``decode``: the same with ``stitch="never"`` (every row decoded and encoded again);
3. ``cp``: ``cp -r`` of the table's data files to a new directory on the same disk (coreutils
   copies with ``copy_file_range``, as stitching does for local files).

Goals: decode / stitch >= 4 (wall time) and stitching's throughput (input bytes / wall time)
>= 60 % of ``cp``'s. Output files are checked: rows kept (snapshot summary), footers parse,
8 files.

Usage:
    .venv/bin/python benchmarks/stitching.py [--scale S] [--quick] [--repeat N] [--rebuild]
        [--skip-decode]

``--quick``: scale 1/8 (40 files of ~8 MB row groups, the auto threshold lowered to match),
one round. A first run builds the table (about a minute of CPU at scale 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _processes as P
import _tables as T

FILES = 64
ROW_GROUP_BYTES = 64 * 1024 * 1024
TARGET = 512 * 1024 * 1024
GOAL_DECODE = 4.0
GOAL_CP = 0.60
MIN_ROW_GROUP_PROPERTY = "phlo-lakehouse.optimize.stitch-min-row-group-bytes"


def _spec(scale: float) -> T.TableSpec:
    """``64 x scale`` files (at least 5 per partition, Iceberg's min-input-files) of one row
    group each; the row-group size (kept in ``live_files``) shrinks with the scale below 1."""
    files = max(5 * T.PARTITIONS, round(FILES * scale))
    return T.TableSpec("stitch", files, round(ROW_GROUP_BYTES * min(1.0, scale)))


def _rows(index: int, rows: int, part: int, schema: Any) -> Any:
    """Rows of file ``index``: random values that compress little (~45 bytes a row in zstd)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(index)
    first = index * rows
    return pa.table(
        {
            "id": np.arange(first, first + rows, dtype=np.int64),
            "part": np.full(rows, part, dtype=np.int32),
            "event_time": pa.array(
                1_767_225_600_000_000 + np.sort(rng.integers(0, 86_400_000_000, rows)),
                pa.timestamp("us", tz="UTC"),
            ),
            "user_id": rng.integers(0, 2**40, rows, dtype=np.int64),
            "amount": rng.random(rows),
            "category": pa.array([f"cat-{k:03d}" for k in range(500)]).take(
                pa.array(rng.integers(0, 500, rows))
            ),
            "session": pa.array(np.frombuffer(rng.bytes(8 * rows).hex().encode(), "S16")).cast(
                pa.string()
            ),
        }
    ).cast(schema)


def _write(task: tuple[str, int, int, int, str]) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, index, rows, part, schema_json = task
    schema = pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(schema_json)))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = _rows(index, rows, part, schema)
    pq.write_table(data, path, row_group_size=rows, compression="zstd", data_page_size=1 << 20)
    return path


def build(spec: T.TableSpec, workers: int) -> dict[str, Any]:
    """Create ``bench.stitch_<files>`` and its pristine copy; returns its marker."""
    import multiprocessing as mp

    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    from phlo_lakehouse.operations.read import write_schema

    started = time.perf_counter()
    catalog = T.lakehouse().catalog()
    catalog.create_namespace_if_not_exists(T.NAMESPACE)
    try:
        old = catalog.load_table(spec.identifier)
        shutil.rmtree(T.local_path(old.location()), ignore_errors=True)
        catalog.drop_table(spec.identifier)
    except NoSuchTableError:
        pass
    shutil.rmtree(T.PRISTINE / spec.name, ignore_errors=True)
    schema, partition_spec = T.bench_schema()
    table = catalog.create_table(
        spec.identifier,
        schema=schema,
        partition_spec=partition_spec,
        properties={
            "write.target-file-size-bytes": str(TARGET),
            # smaller row groups (--scale < 1): lower the auto threshold alike
            **(
                {MIN_ROW_GROUP_PROPERTY: str(spec.live_files // 2)}
                if spec.live_files < 2**25
                else {}
            ),
        },
    )
    arrow_schema = write_schema(table)
    # Bytes per row at the size written (compression improves with the row-group size).
    import pyarrow.parquet as pq

    probe_rows = max(100_000, min(2_000_000, spec.live_files // 30))
    probe = _rows(0, probe_rows, 0, arrow_schema)
    probe_path = str(T.WORK / "stitch-probe.parquet")
    pq.write_table(probe, probe_path, row_group_size=probe_rows, compression="zstd")
    bytes_per_row = os.path.getsize(probe_path) / probe_rows
    os.unlink(probe_path)
    rows = int(spec.live_files / bytes_per_row)
    data_dir = os.path.join(T.local_path(table.location()), "data")
    schema_hex = arrow_schema.serialize().to_pybytes().hex()
    tasks = [
        (
            os.path.join(data_dir, f"part={i % T.PARTITIONS}", f"{i:05d}-stitch.parquet"),
            i,
            rows,
            i % T.PARTITIONS,
            schema_hex,
        )
        for i in range(spec.size)
    ]
    with mp.get_context("spawn").Pool(workers) as pool:
        paths = pool.map(_write, tasks)
    written = time.perf_counter()
    with table.transaction() as tx:
        with tx.update_snapshot().fast_append() as append:
            for path in paths:
                data_file = parquet_file_to_data_file(table.io, table.metadata, f"file://{path}")
                data_file.spec_id = table.metadata.default_spec_id
                append.append_data_file(data_file)
    table = catalog.load_table(spec.identifier)
    row = T.catalog_row(spec.identifier)
    assert row is not None
    T.dispose_catalog(catalog)
    tmp = T.PRISTINE / f".{spec.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    T.link_tree(Path(T.local_path(table.location())), tmp)
    tmp.rename(T.PRISTINE / spec.name)
    marker = {
        "params": spec.params(),
        "table": spec.identifier,
        "location": table.location(),
        "metadata_location": row[0],
        "previous_metadata_location": row[1],
        "build_s": round(time.perf_counter() - started, 2),
        "write_s": round(written - started, 2),
        "bytes": sum(os.path.getsize(p) for p in paths),
    }
    T.marker_path(spec).write_text(json.dumps(marker, indent=2))
    return marker


def ensure(spec: T.TableSpec, workers: int, rebuild: bool) -> tuple[dict[str, Any], bool]:
    marker = None if rebuild else T.read_marker(spec)
    if marker is not None:
        T.restore(spec, marker)
        return marker, True
    return build(spec, workers), False


def _api_task(spec: T.TableSpec, stitch: str) -> dict[str, Any]:
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
import _tables as T
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.optimize import OptimizeOperation
import pyiceberg.catalog.sql, pyiceberg.io.pyarrow  # imports are not the operation
op = OptimizeOperation(target_file_size={TARGET}, stitch={stitch!r})
r0 = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
result = OperationExecutor(T.lakehouse()).run(op, {spec.identifier!r})
seconds = time.perf_counter() - started
r1 = resource.getrusage(resource.RUSAGE_SELF)
d = result.details
print(json.dumps({{"seconds": seconds,
    "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
    "peak_rss_mb": r1.ru_maxrss / 1024, "stitched_groups": d.get("stitched_groups", 0),
    "files_written": len(d.get("files_written", [])), "rows_written": d.get("rows_written", 0)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cp(marker: dict[str, Any]) -> dict[str, Any]:
    source = os.path.join(T.local_path(marker["location"]), "data")
    target = str(T.WORK / "cp_out")
    shutil.rmtree(target, ignore_errors=True)
    run = P.measured(["cp", "-r", source, target])
    shutil.rmtree(target, ignore_errors=True)
    return run


def _check(spec: T.TableSpec, marker: dict[str, Any], result: dict[str, Any]) -> bool:
    import pyarrow.parquet as pq

    from phlo_lakehouse.operations.live_files import live_files

    handle = T.lakehouse().get_table(spec.identifier)
    files = live_files(handle.table, handle.snapshot).data
    rows = sum(pq.read_metadata(T.local_path(f.path)).num_rows for f in files)
    expected = int(handle.table.snapshots()[0].summary["total-records"])
    return rows == expected and len(files) == T.PARTITIONS and rows == result["rows_written"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--quick", action="store_true", help="scale 1/8, one round")
    parser.add_argument("--repeat", type=int, default=None, help="rounds (default 3, --quick 1)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--skip-decode", action="store_true", help="omit the decode path")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    scale = args.scale or (0.125 if args.quick else 1.0)
    repeat = args.repeat or (1 if args.quick else 3)
    spec = _spec(scale)
    print(
        f"stitching benchmark: {spec.size} files x {spec.live_files / 2**20:.0f} MiB row groups, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    t0 = time.perf_counter()
    marker, reused = ensure(spec, args.workers, args.rebuild)
    size = marker["bytes"]
    print(
        f"table {spec.identifier} {'reused' if reused else 'built'} in "
        f"{time.perf_counter() - t0:.1f} s: {size / 2**30:.2f} GiB",
        flush=True,
    )
    engines = ["cp", "stitch", "cli"] + ([] if args.skip_decode else ["decode"])
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    checks = []
    for round_ in range(repeat):
        for engine in engines:
            if engine == "decode" and round_:
                continue  # minutes long: once is enough
            T.restore(spec, marker)
            if engine == "cp":
                result = _cp(marker)
            elif engine == "cli":
                command = P.cli_command("optimize", T.LIVE, spec.identifier, TARGET)
                result = P.measured([*command, "--stitch", "auto"])
                result.update(P.cli_figures(result.pop("stdout")))
            else:
                result = _api_task(spec, "auto" if engine == "stitch" else "never")
            if engine != "cp":
                ok = _check(spec, marker, result)
                checks.append(ok)
                if engine in ("stitch", "cli") and result.get("stitched_groups") != T.PARTITIONS:
                    checks.append(False)
            runs[engine].append(result)
            print(
                f"  {engine:<7} {result['seconds']:7.2f} s  cpu {result['cpu_s']:6.2f} s  "
                f"{size / result['seconds'] / 2**20:8.0f} MiB/s  load {os.getloadavg()[0]:4.1f}"
                + (f"  stitched_groups={result.get('stitched_groups')}" if engine != "cp" else ""),
                flush=True,
            )
    T.restore(spec, marker)
    wall = {e: statistics.median(r["seconds"] for r in rs) for e, rs in runs.items() if rs}
    cpu = {e: statistics.median(r["cpu_s"] for r in rs) for e, rs in runs.items() if rs}
    rows = []
    if "decode" in wall:
        rows.append(
            (
                "decode / stitch (API)",
                wall["decode"] / wall["stitch"],
                cpu["decode"] / cpu["stitch"],
                GOAL_DECODE,
                ">=",
            )
        )
        rows.append(
            (
                "decode (API) / stitch (CLI)",
                wall["decode"] / wall["cli"],
                cpu["decode"] / cpu["cli"],
                GOAL_DECODE,
                ">=",
            )
        )
    rows.append(("stitch (API) throughput / cp", wall["cp"] / wall["stitch"], None, GOAL_CP, ">="))
    rows.append(("stitch (CLI) throughput / cp", wall["cp"] / wall["cli"], None, GOAL_CP, ">="))
    print(f"\n{'measurement':<32} {'ratio':>7} {'cpu ratio':>9}  goal     result")
    passed = True
    for label, value, cpu_value, goal, _ in rows:
        ok = value >= goal
        passed &= ok
        cpu_text = f"{cpu_value:9.2f}" if cpu_value is not None else f"{'-':>9}"
        print(f"{label:<32} {value:7.2f} {cpu_text}  >= {goal:<5} {'PASS' if ok else 'FAIL'}")
    print(
        "throughput: "
        + ", ".join(f"{e} {size / s / 2**20:.0f} MiB/s" for e, s in wall.items())
        + f" (medians; {size / 2**30:.2f} GiB of input)"
    )
    print(
        f"checks: {sum(checks)}/{len(checks)} passed; load average {os.getloadavg()[0]:.1f} at end"
    )
    return 0 if all(checks) and (passed or args.quick) else 1


if __name__ == "__main__":
    sys.exit(main())
