"""Benchmark: expire and vacuum on an object store (moto's S3 API), through the CLI, files/s.

The tables live in an S3 warehouse on a running moto server (``scripts/services/all.sh start
moto``; endpoint from ``--endpoint`` or ``PHLO_TEST_S3_ENDPOINT``) with a SQLite catalog under
``benchmarks/.work/object_store``; each run builds them under a new prefix:

- ``expire``: ``2,000 x scale`` snapshots of a table whose single tiny data file every commit
  replaces (the same shape as ``maintenance.py``'s, see ``_tables.py``), expired down to one
  with ``phlo-lakehouse expire TABLE --older-than 0s --retain-last 1 --yes``: every data file,
  manifest and manifest list of the expired snapshots is deleted (S3 ``DeleteObjects`` batches).
- ``vacuum``: 12 appends (~100 live files) and ``5,000 x scale`` planted orphans (90 % under
  ``data/``, 10 % under ``metadata/``), removed with ``phlo-lakehouse vacuum TABLE --older-than 1s
  --force --yes`` (S3 keeps no settable modification time, so the orphans are young: hence
  ``--force``). Re-planted before each of ``--repeat`` rounds.

Each command runs as a fresh process (start-up included). The same work is done by Spark's
Iceberg procedures on the same catalog and bucket (``--skip-spark`` omits them), through a
catalog that reads and writes S3 through Iceberg's ``S3FileIO``, two ways (`_spark`): in a fresh
process per run (start-up to exit, as a user's ``spark-submit`` job; like with like for our CLI,
the goals) and in a warm ``local[2]`` session started first (the call only; printed against our
CLI for information, an unlike pair): ``expire_snapshots(older_than => <now + 1 d>, retain_last
=> 1)`` on a table of its own built the same way, and the ``DeleteOrphanFiles`` action of
``remove_orphan_files`` (cut-off: now, listing through S3FileIO's prefix listing; the procedure
itself refuses cut-offs under 24 hours) on the same table with its orphans planted again (the
warm session runs each once first, untimed). Vacuum is also run by
iceberg-zamboni's CLI (``zamboni remove-orphans … --older-than-days 0 --yes``, a fresh process;
``--skip-zamboni`` omits it), which reaches S3 tables only through a REST catalog: the table's
metadata file is registered in the Iceberg REST server running on the same moto
(``scripts/services/all.sh start moto iceberg_rest``; ``--rest-uri`` or
``PHLO_TEST_ICEBERG_REST_CATALOG``). Printed: seconds, CPU seconds (the warm session's: its
JVM's), files deleted and listed, files per second, and the ratios Spark fresh process / our CLI
(goal >= 5x for both, as on the local disk), zamboni / our CLI (goal >= 1.5x) and warm session /
our CLI (information). Checks: one snapshot left; every orphan gone, no live file touched, after
every run of every engine. With ``--count-requests`` every engine's S3 requests go through a
counting proxy (``_s3_requests.py``; builds and checks too, but only the timed runs are counted)
and each row is followed by its requests by kind (HEAD, GET, LIST, PUT, DELETE, DeleteObjects);
the proxy costs time, so compare times from runs without it. zamboni's REST server reads the
metadata file on its own, not through the proxy.

Usage:
    .venv/bin/python benchmarks/object_store.py [--scale S] [--quick] [--repeat N] [--endpoint URL]
        [--skip-spark] [--skip-zamboni] [--rest-uri URL] [--count-requests]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _processes as P
import _s3_requests as R
import _spark as S
import _tables as T

WORK = Path(__file__).resolve().parent / ".work" / "object_store"
SNAPSHOTS = 2_000
ORPHANS = 5_000
THREADS = 16
KEYS = {"s3.access-key-id": "testing", "s3.secret-access-key": "testing", "s3.region": "us-east-1"}


def _settings(endpoint: str, bucket: str, prefix: str) -> Any:
    from phlo_lakehouse import CatalogSettings

    WORK.mkdir(parents=True, exist_ok=True)
    return CatalogSettings(
        type="sql",
        uri=f"sqlite:///{WORK}/catalog.db",
        warehouse=f"s3://{bucket}/{prefix}",
        properties={**KEYS, "s3.endpoint": endpoint, "s3.path-style-access": "true"},
    )


def _cli_env(settings: Any) -> dict[str, str]:
    props = settings.properties
    return {
        **os.environ,
        "PHLO_LAKEHOUSE_CATALOG_TYPE": "sql",
        "PHLO_LAKEHOUSE_CATALOG_URI": settings.uri,
        "PHLO_LAKEHOUSE_WAREHOUSE": settings.warehouse,
        "PHLO_LAKEHOUSE_S3_ENDPOINT": props["s3.endpoint"],
        "PHLO_LAKEHOUSE_S3_ACCESS_KEY_ID": props["s3.access-key-id"],
        "PHLO_LAKEHOUSE_S3_SECRET_ACCESS_KEY": props["s3.secret-access-key"],
        "PHLO_LAKEHOUSE_S3_REGION": props["s3.region"],
    }


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _s3_data_files(table: Any, n: int, rows: int) -> list[Any]:
    """``n`` tiny data files written through the table's FileIO, 16 at a time; their DataFiles."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    T.WORKER.update(
        metadata=table.metadata, arrow_schema=table.metadata.schema().as_arrow(), io=table.io
    )

    def write(i: int) -> Any:
        path = f"{table.location()}/data/{i:06d}-bench.parquet"
        with table.io.new_output(path).create(overwrite=True) as out:
            pq.write_table(T.make_rows(i, rows, 0), out, compression="zstd")
        data_file = parquet_file_to_data_file(table.io, table.metadata, path)
        data_file.spec_id = table.metadata.default_spec_id
        return data_file

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(write, range(n)))


def _thread_map(fn: Any, tasks: list[Any]) -> Any:
    with ThreadPoolExecutor(THREADS) as pool:
        yield from pool.map(fn, tasks)


def build_expire(lakehouse: Any, name: str, snapshots: int) -> None:
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC

    schema, _ = T.bench_schema()
    table = lakehouse.catalog().create_table(
        name, schema=schema, partition_spec=UNPARTITIONED_PARTITION_SPEC
    )
    spec = T.TableSpec("expire", snapshots)
    T.build_expire_table(table, spec, 1, write_files=_s3_data_files, map_unordered=_thread_map)


def build_vacuum(lakehouse: Any, name: str) -> None:
    import pyarrow as pa

    schema, partition_spec = T.bench_schema()
    table = lakehouse.catalog().create_table(name, schema=schema, partition_spec=partition_spec)
    T.WORKER["arrow_schema"] = table.metadata.schema().as_arrow()
    for commit in range(T.VACUUM_COMMITS):
        rows = T.VACUUM_ROWS_PER_FILE
        batch = [T.make_rows(commit * 8 + p, rows, p) for p in range(T.PARTITIONS)]
        table.append(pa.concat_tables(batch))


def plant_orphans(client: Any, location: str, count: int) -> set[str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    payload = os.urandom(T.ORPHAN_BYTES)
    keys = [
        f"{prefix}/metadata/orphan-{i:06d}-m0.avro"
        if i % 10 == 9
        else f"{prefix}/data/part={i % T.PARTITIONS}/orphan-{i:06d}.parquet"
        for i in range(count)
    ]
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=payload), keys))
    return {f"s3://{bucket}/{k}" for k in keys}


def listed(client: Any, location: str) -> set[str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    out = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        # Keys ending in "/" are directory markers (zamboni's S3 filesystem leaves one per
        # partition directory it deleted from): empty objects, no file of the table.
        contents = page.get("Contents", [])
        out |= {f"s3://{bucket}/{o['Key']}" for o in contents if not o["Key"].endswith("/")}
    return out


def s3_conf(settings: Any) -> dict[str, str]:
    """Spark settings making ``settings``' catalog read and write through S3FileIO on moto."""
    props = settings.properties
    prefix = f"spark.sql.catalog.{settings.name}"
    return {
        f"{prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{prefix}.s3.endpoint": props["s3.endpoint"],
        f"{prefix}.s3.path-style-access": "true",
        f"{prefix}.s3.access-key-id": props["s3.access-key-id"],
        f"{prefix}.s3.secret-access-key": props["s3.secret-access-key"],
        f"{prefix}.client.region": props["s3.region"],
    }


def spark_run(
    spark: Any, settings: Any, kind: str, table: str, fresh: bool = False
) -> dict[str, Any]:
    """Iceberg's procedure for ``kind`` on ``table``, as `P.measured` reports a run: in the warm
    session ``spark`` (let settle first), or if ``fresh`` in a fresh process
    (`S.fresh_spark_run`; the warm JVM is let settle first all the same)."""
    now = datetime.now(UTC)
    if spark is not None:
        S.settle(spark)
    if fresh:
        spark = None
    if kind == "expire":
        sql = S.spark_procedure_sql(settings.name, kind, table, older_than=now + timedelta(days=1))
        if spark is None:
            return S.fresh_spark_run(settings, kind, sql=sql, extra_conf=s3_conf(settings))
        seconds, result = S.spark_call(spark, kind, sql)
    else:
        # S3 objects are as young as their upload: the cut-off is now, as our --force is.
        orphans_of = f"{settings.name}.{table}"
        if spark is None:
            return S.fresh_spark_run(
                settings, kind, orphans_of=orphans_of, older_than=now, extra_conf=s3_conf(settings)
            )
        seconds, result = S.spark_delete_orphans(spark, orphans_of, now)
    return {"seconds": seconds, **result}


RIVALS = {
    "cli": "our CLI",
    "spark": "Spark warm session",
    "sparkproc": "Spark fresh process",
    "zamboni": "zamboni CLI",
}
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "ZAMBONI_S3_SECRET_ACCESS_KEY": "testing",  # zamboni takes its secret only from here
}


def zamboni_command(rest_uri: str, settings: Any, table: Any) -> list[str]:
    """iceberg-zamboni's orphan removal (0-day age guard, as our --force) on ``table``, seen
    through the Iceberg REST catalog at ``rest_uri`` (zamboni reaches S3 tables only through a
    REST catalog): the same metadata file is registered there under a name of its own, so
    zamboni lists and deletes in the same bucket and prefix."""
    from pyiceberg.catalog import load_catalog

    rest = load_catalog("zamboni", type="rest", uri=rest_uri, **settings.properties)
    rest.create_namespace_if_not_exists(T.NAMESPACE)
    name = f"{T.NAMESPACE}.vacuum_{uuid.uuid4().hex[:8]}"
    rest.register_table(name, table.metadata_location)
    props = settings.properties
    return [
        P.zamboni_executable(),
        "remove-orphans",
        name,
        "--uri",
        rest_uri,
        "--warehouse",
        settings.warehouse,
        "--s3-endpoint",
        props["s3.endpoint"],
        "--s3-access-key-id",
        props["s3.access-key-id"],
        "--s3-region",
        props["s3.region"],
        "--older-than-days",
        "0",
        "--yes",
    ]


def zamboni_deleted(stdout: str) -> int:
    """The count in zamboni's ``deleted N file(s)`` line."""
    for line in stdout.splitlines():
        words = line.split()
        if words[:1] == ["deleted"] and len(words) > 1 and words[1].isdigit():
            return int(words[1])
    raise RuntimeError(f"no 'deleted N file(s)' line in zamboni's output:\n{stdout[-2000:]}")


def expire_deleted(result: dict[str, Any]) -> int:
    """Files an expire deleted, from our CLI's figures or Spark's result row."""
    ours = ("data_files_to_delete", "manifests_to_delete", "manifest_lists_to_delete")
    spark = (
        "deleted_data_files_count",
        "deleted_manifest_files_count",
        "deleted_manifest_lists_count",
    )
    return sum(int(result.get(k) or 0) for k in (*ours, *spark))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--quick", action="store_true", help="scale 0.1, one round")
    parser.add_argument("--repeat", type=int, default=None, help="vacuum rounds (default 3)")
    parser.add_argument("--skip-spark", action="store_true", help="omit the Spark baselines")
    parser.add_argument("--skip-zamboni", action="store_true", help="omit iceberg-zamboni's vacuum")
    parser.add_argument(
        "--rest-uri",
        default=os.environ.get("PHLO_TEST_ICEBERG_REST_CATALOG"),
        help="Iceberg REST catalog on the same moto (zamboni reaches S3 tables through it)",
    )
    parser.add_argument("--endpoint", default=os.environ.get("PHLO_TEST_S3_ENDPOINT"))
    parser.add_argument("--bucket", default=os.environ.get("PHLO_TEST_S3_BUCKET", "warehouse"))
    parser.add_argument(
        "--count-requests",
        action="store_true",
        help="send every engine's S3 requests through a counting proxy; print them by kind",
    )
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error(
            "no S3 endpoint: start moto (scripts/services/all.sh start moto) or pass "
            "--endpoint http://127.0.0.1:PORT"
        )
    scale = args.scale or (0.1 if args.quick else 1.0)
    repeat = args.repeat or (1 if args.quick else 3)
    from phlo_lakehouse import IcebergLakehouse

    client = _client(args.endpoint)
    try:
        client.create_bucket(Bucket=args.bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    (WORK / "catalog.db").unlink(missing_ok=True)
    counter = R.RequestCounter(args.endpoint).start() if args.count_requests else None
    endpoint = counter.url if counter else args.endpoint
    settings = _settings(endpoint, args.bucket, f"object-store-bench-{uuid.uuid4().hex[:8]}")
    lakehouse = IcebergLakehouse(settings)
    lakehouse.catalog().create_namespace_if_not_exists(T.NAMESPACE)
    env = _cli_env(settings)
    snapshots, orphans = max(10, round(SNAPSHOTS * scale)), max(10, round(ORPHANS * scale))
    print(
        f"object-store benchmark on {args.endpoint}: {snapshots} snapshots, {orphans} orphans, "
        f"load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    engines = ("cli",) if args.skip_spark else ("cli", "sparkproc", "spark")
    spark = None
    if "spark" in engines:
        started = time.perf_counter()
        spark = S.spark_session(settings, "phlo-object-store-benchmark", s3_conf(settings))
        build_expire(lakehouse, f"{T.NAMESPACE}.expire_warmup", 10)
        spark_run(spark, settings, "expire", f"{T.NAMESPACE}.expire_warmup")
        print(f"Spark {spark.version} local[2] warm in {time.perf_counter() - started:.1f} s")
    rows: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
    checks: list[tuple[str, bool]] = []

    for engine in engines:
        name = f"{T.NAMESPACE}.expire_{engine}"
        started = time.perf_counter()
        build_expire(lakehouse, name, snapshots)
        print(f"expire table for {engine} built in {time.perf_counter() - started:.1f} s")
        mark = counter.mark() if counter else 0
        if engine in ("spark", "sparkproc"):
            run = spark_run(spark, settings, "expire", name, fresh=engine == "sparkproc")
            figures = run
        else:
            command = P.cli_command("expire", Path("unused"), name, 0)
            command = [command[0], *command[3:]]  # the catalog comes from the environment
            run = P.measured(command, env)
            figures = P.cli_figures(run.pop("stdout"))
        if counter:
            run["requests"] = counter.since(mark)
        rows[("expire", engine)] = (run, expire_deleted(figures))
        left = len(lakehouse.get_table(name).table.snapshots())
        checks.append((f"expire ({engine}): 1 snapshot left ({left})", left == 1))

    started = time.perf_counter()
    name = f"{T.NAMESPACE}.vacuum"
    build_vacuum(lakehouse, name)
    location = lakehouse.get_table(name).table.location()
    live = listed(client, location)
    print(f"vacuum table built in {time.perf_counter() - started:.1f} s", flush=True)
    exe = P.cli_command("vacuum", Path("unused"), "", 0)[0]
    command = [exe, "vacuum", name, "--older-than", "1s", "--force", "--yes", "--json"]
    if spark is not None:
        spark_run(spark, settings, "vacuum", name)  # warm-up: nothing to remove yet
    vacuum_engines = engines
    if not args.skip_zamboni:
        if not args.rest_uri:
            parser.error(
                "zamboni needs an Iceberg REST catalog: start iceberg_rest "
                "(scripts/services/all.sh start moto iceberg_rest), pass --rest-uri, or "
                "pass --skip-zamboni"
            )
        zamboni = zamboni_command(args.rest_uri, settings, lakehouse.get_table(name).table)
        vacuum_engines = (*engines, "zamboni")
    vacuum_runs: dict[str, list[tuple[dict[str, Any], int]]] = {e: [] for e in vacuum_engines}
    for _ in range(repeat):
        for engine in vacuum_engines:
            planted = plant_orphans(client, location, orphans)
            time.sleep(1.5)  # older than --older-than 1s
            mark = counter.mark() if counter else 0
            if engine in ("spark", "sparkproc"):
                run = spark_run(spark, settings, "vacuum", name, fresh=engine == "sparkproc")
                deleted, files = run["orphan_files"], len(live) + orphans
            elif engine == "zamboni":
                run = P.measured(zamboni, {**os.environ, **AWS_ENV})
                deleted, files = zamboni_deleted(run.pop("stdout")), len(live) + orphans
            else:
                run = P.measured(command, env)
                figures = P.cli_figures(run.pop("stdout"))
                deleted, files = figures.get("orphan_files"), int(figures.get("files_listed", 0))
            if counter:
                run["requests"] = counter.since(mark)
            vacuum_runs[engine].append((run, files))
            after = listed(client, location)
            ok = after == live and not after & planted and deleted == orphans
            checks.append((f"vacuum ({engine}): {deleted} orphans deleted, live kept", ok))
    for engine, runs in vacuum_runs.items():
        median = statistics.median(r["seconds"] for r, _ in runs)
        rows[("vacuum", engine)] = min(runs, key=lambda r: abs(r[0]["seconds"] - median))
    if spark is not None:
        spark.stop()
    if counter:
        counter.stop()
    return report(rows, checks, snapshots, orphans, repeat)


def report(
    rows: dict[tuple[str, str], tuple[dict[str, Any], int]],
    checks: list[tuple[str, bool]],
    snapshots: int,
    orphans: int,
    repeat: int,
) -> int:
    """Print the figures, the Spark / CLI ratios and the checks; 1 if a check or goal failed."""
    labels = {
        "expire": f"expire {snapshots} -> 1 snapshots (files deleted)",
        "vacuum": f"vacuum {orphans} orphans (files listed)",
    }
    print(f"\n{'measurement':<64} {'seconds':>8} {'cpu s':>7} {'files':>7} {'files/s':>9}")
    for (kind, engine), (run, files) in rows.items():
        label = f"{labels[kind]}, {RIVALS[engine]}"
        print(
            f"{label:<64} {run['seconds']:8.2f} {run['cpu_s']:7.2f} {files:7d} "
            f"{files / run['seconds']:9.0f}"
        )
        if "requests" in run:
            print(f"{'':<4}S3 requests: {R.format_counts(run['requests'])}")
    goals_failed = []
    # Like with like: fresh processes (start-up included) on both sides gate the goals; the warm
    # session against our fresh CLI is printed as information (an unlike pair).
    goals: list[tuple[str, str, float | None]] = [
        ("expire", "sparkproc", 5.0),
        ("vacuum", "sparkproc", 5.0),
        ("vacuum", "zamboni", 1.5),
        ("expire", "spark", None),
        ("vacuum", "spark", None),
    ]
    for kind, rival, goal in goals:
        if (kind, rival) not in rows:
            continue
        ours, theirs = rows[(kind, "cli")][0], rows[(kind, rival)][0]
        ratio = theirs["seconds"] / ours["seconds"]
        cpu = theirs["cpu_s"] / max(ours["cpu_s"], 1e-9)
        if goal is None:
            verdict = "(goal >= -)  info, unlike pair"
        else:
            verdict = f"(goal >= {goal:g})  {'PASS' if ratio >= goal else 'FAIL'}"
            if ratio < goal:
                goals_failed.append(f"{kind} vs {rival}")
        print(
            f"{kind}: {RIVALS[rival] + ' / our CLI':<31} {ratio:6.2f}x {verdict:<32} "
            f"cpu ratio {cpu:6.2f}x"
        )
    print(
        f"(vacuum: median of {repeat} rounds; our CLI a fresh process per run, start-up "
        "included, as Spark's fresh process and zamboni's CLI; the warm session: the call only)"
    )
    failed = [label for label, ok in checks if not ok]
    print(
        f"checks: {len(checks) - len(failed)}/{len(checks)} passed"
        + "".join(f"\nFAIL  {label}" for label in failed)
    )
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0 if not failed and not goals_failed else 1


if __name__ == "__main__":
    sys.exit(main())
