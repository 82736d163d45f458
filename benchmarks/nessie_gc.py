"""Benchmark: Nessie GC's live set (time, peak RSS at 1x and 10x the files) and sweep throughput.

Everything runs against a Nessie server of the benchmark's own (``scripts/services/nessie.sh``,
in-memory store) with its warehouse in a bucket of its own on the run's moto, and every figure is
measured in this one run:

1. **Live set.** A history of 3 references x 100 commits (``main`` and two branches made before
   the first commit, so each has its own 100), each commit a fast append of ``files/300`` data
   files (metadata only: the data files need not exist to be marked). It is built at ``--files``
   (default ~100,000) and again at 10x, and each time the live set (cutoff NONE, every commit
   live) is built in a fresh process — ``LiveSetBuilder`` walk + expand + index, as
   `NessieGCOperation` does — reporting wall time and peak RSS (``wait4``). Beside it, in fresh
   processes too: the same live set as a naive Python ``set`` from PyIceberg's own manifest
   reader (what holding it in memory costs), and the user's path, ``phlo-lakehouse gc --dry-run``
   (mark, list every table location, classify). Goal: peak RSS at 10x <= 1.3x that at 1x.
2. **Sweep.** 10,000 orphans planted in a table location, deleted by the GC's sweep
   (``delete_in_batches``: S3 DeleteObjects, 1,000 keys a request) against one DeleteObject
   request per file — sequentially and with 8 threads, the strongest per-file floor — each on
   freshly planted orphans; then ``phlo-lakehouse gc --yes`` end to end (fresh process) on
   another 10,000. Reported in files/s, with ratios to the per-file floors.

Usage (moto must run: ``bash scripts/services/all.sh start moto && source .services/env.sh``):
    .venv/bin/python benchmarks/nessie_gc.py [--files 100000] [--scale 10] [--orphans 10000]
        [--quick]

``--quick`` is a smoke run (10,000 files, 2x, 2,000 orphans). Exit status 1 when a goal or a check
fails. Other processes on the machine load it too: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from _processes import measured  # noqa: E402

REFS = ("main", "b1", "b2")
COMMITS = 100
GOAL_RSS_RATIO = 1.3
TABLE = "bench.events"


# -- building the history ------------------------------------------------------------------------


def build_history(server: Any, files: int) -> int:
    """Reset the server and write 3 refs x `COMMITS` fast appends of fake data files; returns
    the number of data files."""
    import pyarrow as pa
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record

    server.reset()
    lakehouse = server.lakehouse()
    catalog = lakehouse.catalog("main")
    catalog.create_namespace_if_not_exists("bench")
    table = catalog.create_table(TABLE, schema=pa.schema([pa.field("id", pa.int64())]))
    for ref in REFS[1:]:
        lakehouse.nessie.create_branch(ref, "main")
    per_commit = max(1, files // (len(REFS) * COMMITS))
    location = table.location()
    written = 0
    for ref in REFS:
        table = lakehouse.catalog(ref).load_table(TABLE)
        for commit in range(COMMITS):
            with table.transaction() as tx, tx.update_snapshot().fast_append() as append:
                for i in range(per_commit):
                    append.append_data_file(
                        DataFile.from_args(
                            content=DataFileContent.DATA,
                            file_path=f"{location}/data/{ref}-{commit:03d}-{i:05d}.parquet",
                            file_format=FileFormat.PARQUET,
                            partition=Record(),
                            record_count=1,
                            file_size_in_bytes=1024,
                        )
                    )
            written += per_commit
            table = table.refresh()
    return written


# -- the measured children (fresh processes) -------------------------------------------------------


def child_mark(nessie: str, s3: str) -> dict[str, Any]:
    """Build the live set as the GC does; figures as JSON on stdout."""
    import resource
    from datetime import UTC, datetime

    from phlo_lakehouse.gc.collector import NessieGC
    from phlo_lakehouse.gc.cutoff import CutoffRules, compile_ref_regex
    from phlo_lakehouse.gc.mark import LiveSetBuilder
    from phlo_lakehouse.gc.store import LiveSetStore
    from phlo_lakehouse_tests.gc._workers import lakehouse_for

    gc = NessieGC(lakehouse_for(nessie, s3))
    gc.io  # noqa: B018 - catalog connection made before the clock starts, as in a warm process
    gc.history.check()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    store = LiveSetStore.create()
    try:
        rules = CutoffRules.parse([], reference_time=datetime.now(UTC))
        builder = LiveSetBuilder(gc.history, gc.io, store, rules, compile_ref_regex(".*"))
        builder.walk(gc.history.references())
        builder.expand()
        store.finish_live()
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "rss_before_mb": rss_before,
            "live_files": store.live_count(),
            "commits": builder.counts.commits,
            "manifests": builder.counts.manifests,
        }
    finally:
        store.close()


def child_naive(nessie: str, s3: str) -> dict[str, Any]:
    """The same live set held as a Python set, read with PyIceberg's manifest reader."""
    from pyiceberg.table import StaticTable

    from phlo_lakehouse.gc.history import NessieHistory

    properties = _properties(s3)
    history = NessieHistory(nessie)
    started = time.perf_counter()
    live: set[str] = set()
    seen_metadata: set[str] = set()
    seen_manifests: set[str] = set()
    for ref in history.references():
        for entry in history.commit_log(ref):
            for put in entry.puts:
                if put.metadata_location in seen_metadata:
                    continue
                seen_metadata.add(put.metadata_location)
                table = StaticTable.from_metadata(put.metadata_location, properties)
                live.add(put.metadata_location)
                for snapshot in table.metadata.snapshots:
                    live.add(snapshot.manifest_list)
                    for manifest in snapshot.manifests(table.io):
                        if manifest.manifest_path in seen_manifests:
                            continue
                        seen_manifests.add(manifest.manifest_path)
                        live.add(manifest.manifest_path)
                        for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                            live.add(e.data_file.file_path)
    return {"seconds": time.perf_counter() - started, "live_files": len(live)}


def _properties(s3: str) -> dict[str, str]:
    from phlo_lakehouse_tests.gc.server import S3_PROPERTIES

    return {**S3_PROPERTIES, "s3.endpoint": s3}


def _child(kind: str, server: Any) -> dict[str, Any]:
    run = measured(
        [sys.executable, str(Path(__file__)), "--child", kind, server.uri, server.s3_endpoint],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return {**json.loads(run["stdout"].strip().splitlines()[-1]), "peak_rss_mb": run["peak_rss_mb"],
            "process_seconds": run["seconds"]}  # fmt: skip


def _cli_env(server: Any) -> dict[str, str]:
    from phlo_lakehouse.testing.cli import settings_env

    env = dict(os.environ)
    for name, value in settings_env(server.settings()).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _cli(server: Any, *args: str) -> dict[str, Any]:
    exe = str(Path(sys.executable).with_name("phlo-lakehouse"))
    run = measured([exe, "gc", *args, "--format", "json"], env=_cli_env(server))
    return {**json.loads(run["stdout"]), "peak_rss_mb": run["peak_rss_mb"],
            "seconds": run["seconds"]}  # fmt: skip


# -- the sweep ----------------------------------------------------------------------------------


def plant(s3: Any, bucket: str, prefix: str, count: int) -> list[str]:
    keys = [f"{prefix}/orphan-{i:06d}.parquet" for i in range(count)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))
    return [f"s3://{bucket}/{k}" for k in keys]


def sweep_ours(uris: list[str], properties: dict[str, str]) -> float:
    from pyiceberg.io.pyarrow import PyArrowFileIO

    from phlo_lakehouse.gc.store import LiveSetStore
    from phlo_lakehouse.gc.sweep import delete_in_batches

    store = LiveSetStore.create()
    try:
        store.add_candidates((uri, 1, 0) for uri in uris)
        store.commit()
        started = time.perf_counter()
        outcome = delete_in_batches(store, PyArrowFileIO(properties))
        seconds = time.perf_counter() - started
        assert outcome.deleted == len(uris) and not outcome.failed, outcome.failed
        return seconds
    finally:
        store.close()


def sweep_single(uris: list[str], properties: dict[str, str], threads: int) -> float:
    from phlo_lakehouse.storage.s3 import s3_client

    client = s3_client(properties, max_connections=threads)

    def delete(uri: str) -> None:
        bucket, _, key = uri[len("s3://") :].partition("/")
        client.delete_object(Bucket=bucket, Key=key)

    started = time.perf_counter()
    if threads == 1:
        for uri in uris:
            delete(uri)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(delete, uris))
    return time.perf_counter() - started


def _remaining(s3: Any, bucket: str, prefix: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(len(p.get("Contents") or []) for p in pages)


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--orphans", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "NESSIE", "S3"))
    args = parser.parse_args(argv)
    if args.child:
        kind, nessie, s3 = args.child
        print(json.dumps((child_mark if kind == "mark" else child_naive)(nessie, s3)))
        return 0
    if args.quick:
        args.files, args.scale, args.orphans = 10_000, 2, 2_000
    endpoint = os.environ.get("PHLO_TEST_S3_ENDPOINT")
    if not endpoint:
        print("PHLO_TEST_S3_ENDPOINT is not set: `bash scripts/services/all.sh start moto && "
              "source .services/env.sh` first", file=sys.stderr)  # fmt: skip
        return 2

    from phlo_lakehouse_tests.gc.oracle import s3_client
    from phlo_lakehouse_tests.gc.server import NessieServer

    ok = True
    s3 = s3_client(endpoint)
    with NessieServer.started(
        Path(tempfile.mkdtemp(prefix="gc-bench-")), endpoint, "gc-bench"
    ) as server:
        print(f"Nessie GC benchmark (own Nessie at {server.uri}, moto at {endpoint})")
        rows = []
        for factor in (1, args.scale):
            started = time.perf_counter()
            data_files = build_history(server, args.files * factor)
            built = time.perf_counter() - started
            mark, naive = _child("mark", server), _child("naive", server)
            cli = _cli(server, "--dry-run")
            expected = data_files + 3 * COMMITS * 3 + 1  # + metadata, manifest list, manifest
            ok &= mark["live_files"] == naive["live_files"]
            ok &= abs(mark["live_files"] - expected) <= len(REFS) + 2
            rows.append((factor, data_files, built, mark, naive, cli))
            print(
                f"\n{data_files:,} data files over {len(REFS)} refs x {COMMITS} commits "
                f"(history built in {built:.0f} s): live set of {mark['live_files']:,} files\n"
                f"  ours (mark, fresh process): {mark['seconds']:7.2f} s, peak RSS "
                f"{mark['peak_rss_mb']:6.0f} MB ({mark['rss_before_mb']:.0f} MB after imports "
                "and connecting)\n"
                f"  naive Python set:           {naive['seconds']:7.2f} s, peak RSS "
                f"{naive['peak_rss_mb']:6.0f} MB  (ours: {mark['seconds'] / naive['seconds']:.2f}x "
                f"the time, {mark['peak_rss_mb'] / naive['peak_rss_mb']:.2f}x the memory)\n"
                f"  phlo-lakehouse gc --dry-run: {cli['seconds']:6.2f} s, peak RSS "
                f"{cli['peak_rss_mb']:6.0f} MB ({cli['figures']['live_files']:,} live)"
            )
        (_, f1, _, m1, n1, c1), (_, f2, _, m2, n2, c2) = rows
        rss_ratio = m2["peak_rss_mb"] / m1["peak_rss_mb"]
        cli_ratio = c2["peak_rss_mb"] / c1["peak_rss_mb"]
        naive_ratio = n2["peak_rss_mb"] / n1["peak_rss_mb"]
        goal = rss_ratio <= GOAL_RSS_RATIO and cli_ratio <= GOAL_RSS_RATIO
        ok &= goal
        print(
            f"\nat {f2 / f1:.0f}x the files: our peak RSS x{rss_ratio:.2f} (CLI x{cli_ratio:.2f}; "
            f"naive set x{naive_ratio:.2f}), time x{m2['seconds'] / m1['seconds']:.2f} "
            f"- goal RSS <= x{GOAL_RSS_RATIO}: {'met' if goal else 'MISSED'}"
        )

        properties = _properties(endpoint)
        location = server.lakehouse().catalog("main").load_table(TABLE).location()
        prefix = location.removeprefix(f"s3://{server.bucket}/") + "/orphans"
        n = args.orphans
        timings = {}
        for name, run in (
            ("ours", lambda u: sweep_ours(u, properties)),
            ("single, 8 threads", lambda u: sweep_single(u, properties, 8)),
            ("single, 1 thread", lambda u: sweep_single(u, properties, 1)),
        ):
            uris = plant(s3, server.bucket, prefix, n)
            timings[name] = run(uris)
            ok &= _remaining(s3, server.bucket, prefix) == 0
        print(f"\nsweep of {n:,} orphans on moto (files/s):")
        for name, seconds in timings.items():
            print(f"  {name:18s} {n / seconds:9.0f} files/s ({seconds:.2f} s)")
        best_floor = min(timings["single, 8 threads"], timings["single, 1 thread"])
        print(
            f"  ours vs one request per file: {best_floor / timings['ours']:.1f}x faster than "
            f"8 threads, {timings['single, 1 thread'] / timings['ours']:.1f}x than sequential"
        )
        plant(s3, server.bucket, prefix, n)
        time.sleep(1.2)
        end_to_end = _cli(server, "--older-than", "1s", "--force", "--yes")
        deleted = end_to_end["figures"]["deleted"]
        ok &= deleted >= n and _remaining(s3, server.bucket, prefix) == 0
        print(
            f"  phlo-lakehouse gc --yes end to end (mark {c2['figures']['live_files']:,} live "
            f"files, list, delete {deleted:,}): {end_to_end['seconds']:.1f} s, "
            f"{deleted / end_to_end['seconds']:.0f} files/s overall"
        )
    print("\nall checks passed" if ok else "\nA GOAL OR CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
