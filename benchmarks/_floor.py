"""The pure-pyarrow compaction floor of ``benchmarks/maintenance.py``: the strongest rewrite of a
table's small files into target-size files that pyarrow alone can do, with no Iceberg at all.

What it does, per partition directory of the table's ``data/`` folder (found by listing it, as a
script that knows nothing of Iceberg would):

- **parallel reads and writes, no Python per row or batch**: each partition is one
  ``pyarrow.dataset`` scan (C++ readers, several files read ahead at once on Arrow's I/O and CPU
  thread pools) streamed into ``pyarrow.dataset.write_dataset`` (C++ writer); partitions run
  ``--workers`` at a time (default: CPU count), so both cores decode and encode all the time;
- **the same output as our compaction**: files of about the same number of rows (the partition's
  bytes / target size, rounded like Iceberg's planner), row groups of the same size (the rows of
  ``ROW_GROUP_BUFFER_BYTES_DEFAULT`` of Arrow data, as our writer buffers), and PyIceberg's Parquet
  writer settings for the table (compression codec and level, page and dictionary sizes);
- **no commit**, no statistics collection, no manifests: only reading and writing the data.

``--variant threads`` is the earlier floor (one Python thread per partition reading each file
with ``ParquetFile.read`` and writing row groups with ``ParquetWriter``) for comparison.

Run it as its own process, which is how ``maintenance.py`` measures it (start-up included, like
the CLI path)::

    .venv/bin/python benchmarks/_floor.py TABLE_DIR OUT_DIR --target 134217728
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: Arrow bytes per row group, as ``phlo_lakehouse.operations.rewrite`` buffers by default.
ROW_GROUP_BUFFER_BYTES = 64 * 1024 * 1024
#: The table's writer settings (PyIceberg defaults: zstd, 1 MiB pages, 2 MiB dictionary pages).
WRITER = {
    "compression": "zstd",
    "data_page_size": 1 << 20,
    "dictionary_pagesize_limit": 2 << 20,
    "write_batch_size": 20_000,
}


def partitions(table_dir: str) -> dict[str, list[tuple[str, int]]]:
    """``{partition directory: [(file, size), ...]}`` of the Parquet files under ``data/``."""
    out: dict[str, list[tuple[str, int]]] = {}
    data = os.path.join(table_dir, "data")
    for root, _, names in os.walk(data):
        files = [
            (os.path.join(root, n), os.path.getsize(os.path.join(root, n)))
            for n in sorted(names)
            if n.endswith(".parquet") and not n.startswith(".")
        ]
        if files:
            out[os.path.relpath(root, data)] = files
    return out


def output_files(size: int, target: int) -> int:
    """Iceberg's planner rule for the number of output files (as file_groups.output_file_count)."""
    if size < target:
        return 1
    ceil, floor = math.ceil(size / target), size // target
    if size % target > 0.75 * target:
        return ceil
    return floor if size / floor < 1.1 * target else ceil


def rewrite_dataset(part: str, files: list[tuple[str, int]], out_dir: str, target: int) -> dict:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    paths = [p for p, _ in files]
    first = pq.ParquetFile(paths[0])
    dataset = ds.dataset(paths, format="parquet", schema=first.schema_arrow)
    total_rows = dataset.count_rows()  # from the footers, read in C++
    sample = first.read_row_group(0)
    row_bytes = max(1, sample.nbytes // max(1, sample.num_rows))
    per_group = max(1, ROW_GROUP_BUFFER_BYTES // row_bytes)
    per_file = math.ceil(total_rows / output_files(sum(s for _, s in files), target))
    fmt = ds.ParquetFileFormat()
    ds.write_dataset(
        dataset,
        os.path.join(out_dir, part),
        format=fmt,
        file_options=fmt.make_write_options(**WRITER),
        basename_template="part-{i}.parquet",
        max_rows_per_file=per_file,
        max_rows_per_group=min(per_group, per_file),
        min_rows_per_group=min(per_group, per_file),
        use_threads=True,
        existing_data_behavior="overwrite_or_ignore",
    )
    return {"rows": total_rows}


def _read(path: str) -> Any:
    import pyarrow.parquet as pq

    # One small file: decoding its columns on Arrow's thread pool costs more than it saves.
    return pq.ParquetFile(path).read(use_threads=False)


def _serial_reads(files: list[tuple[str, int]]) -> Any:
    for path, _ in files:
        yield _read(path)


#: Files read ahead of the writer, per partition, on the shared reader pool.
READ_AHEAD = 8
_READERS: ThreadPoolExecutor | None = None


def _parallel_reads(files: list[tuple[str, int]]) -> Any:
    """The partition's files in order, ``READ_AHEAD`` of them being read at any time."""
    from collections import deque

    assert _READERS is not None
    window: deque = deque()
    for path, _ in files:
        window.append(_READERS.submit(_read, path))
        if len(window) >= READ_AHEAD:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


def rewrite_threads(part: str, files: list[tuple[str, int]], out_dir: str, target: int) -> dict:
    return _rewrite_with(part, files, out_dir, target, _serial_reads)


def rewrite_pipelined(part: str, files: list[tuple[str, int]], out_dir: str, target: int) -> dict:
    return _rewrite_with(part, files, out_dir, target, _parallel_reads)


def _rewrite_with(
    part: str, files: list[tuple[str, int]], out_dir: str, target: int, reader: Any
) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(os.path.join(out_dir, part), exist_ok=True)
    per_file = None
    writer: Any = None
    written = file_rows = rows = 0
    buffered: list[pa.Table] = []
    buffered_rows = buffered_bytes = 0
    total_rows = sum(pq.read_metadata(p).num_rows for p, _ in files)
    per_file = math.ceil(total_rows / output_files(sum(s for _, s in files), target))

    def flush() -> None:
        nonlocal writer, file_rows, buffered, buffered_rows, buffered_bytes, written
        if not buffered:
            return
        data = pa.concat_tables(buffered)
        if writer is None:
            path = os.path.join(out_dir, part, f"part-{written}.parquet")
            writer = pq.ParquetWriter(path, data.schema, **WRITER)
        writer.write_table(data, row_group_size=1 << 20)
        file_rows += buffered_rows
        buffered, buffered_rows, buffered_bytes = [], 0, 0
        if file_rows >= per_file:
            writer.close()
            writer, file_rows, written = None, 0, written + 1

    for data in reader(files):
        rows += data.num_rows
        buffered.append(data)
        buffered_rows += data.num_rows
        buffered_bytes += data.nbytes
        if file_rows + buffered_rows >= per_file or buffered_bytes >= ROW_GROUP_BUFFER_BYTES:
            flush()
    flush()
    if writer is not None:
        writer.close()
    return {"rows": rows}


VARIANTS = {
    "dataset": rewrite_dataset,
    "threads": rewrite_threads,
    "pipelined": rewrite_pipelined,
}


def run(table_dir: str, out_dir: str, target: int, variant: str, workers: int) -> dict:
    parts = partitions(table_dir)
    global _READERS
    rewrite = VARIANTS[variant]
    _READERS = ThreadPoolExecutor(max_workers=workers)
    with _READERS, ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(lambda kv: rewrite(kv[0], kv[1], out_dir, target), parts.items()))
    written = [os.path.join(root, n) for root, _, names in os.walk(out_dir) for n in names]
    return {
        "files_read": sum(len(f) for f in parts.values()),
        "files_written": len(written),
        "rows": sum(d["rows"] for d in done),
        "bytes_written": sum(os.path.getsize(p) for p in written),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--target", type=int, default=128 * 1024 * 1024)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="dataset")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = run(args.table_dir, args.out_dir, args.target, args.variant, args.workers)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures["work_s"] = time.perf_counter() - started
    figures["peak_rss_mb"] = usage.ru_maxrss / 1024
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
