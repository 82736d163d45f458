"""The Spark baselines the benchmarks measure against, on the same catalog and Iceberg's
procedures, two ways:

- **warm** (`spark_session`, `spark_call`, `spark_delete_orphans`): a ``local[2]`` session started
  once in the benchmark's process, each procedure run once first, only the call timed, CPU the
  JVM's from /proc: Spark as a service in use, paired with our API (in process);
- **fresh** (`fresh_spark_run`): a new process per run, the way a user runs a Spark job
  (``spark-submit job.py``, or ``python job.py`` building a session): ``python _spark.py TASK``
  starts a ``local[2]`` session with exactly the warm session's settings (`session_conf`: the same
  catalog, jars from the same Maven cache, 4 GB driver), runs the same call as the warm baseline,
  stops the session and waits for its JVM to exit; timed from process start to exit, CPU time and
  peak RSS from the child's rusage (``wait4``, which includes the JVM it waited for). Paired with
  our CLI (a fresh process too). ``spark-sql -e "CALL …"`` from the same pyspark installation
  starts about as fast (without Hive: ``spark.sql.catalogImplementation=in-memory``; Hive's
  Derby metastore adds seconds), but the orphan action on S3 (below) needs Python.

Example:
    >>> spark_procedure_sql("lh", "vacuum", "b.v", older_than=datetime(2026, 1, 1)).split("(")[0]
    'CALL lh.system.remove_orphan_files'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: The optimize target of every benchmark (128 MiB).
TARGET = 128 * 1024 * 1024
#: The JVM of a fresh run must be gone this long after its session stopped.
JVM_EXIT_S = 60.0


def jar_paths() -> list[str]:
    """The Iceberg runtime, sqlite-jdbc and AWS bundle jars (``scripts/spark_jars.sh``: the local
    Maven cache, fetched once)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "spark_jars.sh"
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True)
    return out.stdout.strip().split(":")


def session_conf(settings: Any, extra_conf: dict[str, str] | None = None) -> dict[str, str]:
    """Every setting of a benchmark session on ``settings``' catalog (the warm and the fresh one
    alike): `phlo_lakehouse.testing.spark`'s local settings and catalog, a 4 GB driver, AQE."""
    from phlo_lakehouse.engines.spark_session import local_conf
    from phlo_lakehouse.testing.spark import spark_catalog_conf

    return {
        **local_conf(jar_paths()),
        "spark.default.parallelism": "2",
        **spark_catalog_conf(settings),
        "spark.driver.memory": "4g",
        "spark.sql.adaptive.enabled": "true",
        **(extra_conf or {}),
    }


def spark_session(settings: Any, app_name: str, extra_conf: dict[str, str] | None = None) -> Any:
    """The warm ``local[2]`` Spark session whose Iceberg catalog is ``settings``'."""
    from phlo_lakehouse.testing.spark import spark_session_for

    conf = session_conf(settings, extra_conf)
    jars = conf["spark.driver.extraClassPath"].split(os.pathsep)
    return spark_session_for(settings, jars, app_name=app_name, extra_conf=conf)


def fresh_spark_run(
    settings: Any,
    kind: str,
    *,
    sql: str | None = None,
    orphans_of: str | None = None,
    older_than: datetime | None = None,
    extra_conf: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One fresh-process Spark run (see the module docstring): ``sql`` (a `spark_procedure_sql`)
    or, with ``orphans_of`` (``catalog.ns.name``), `spark_delete_orphans` older than
    ``older_than``. Returns `_processes.measured`'s figures (end to end) with the call's own
    (``call_s``, ``call_cpu_s``), the session start (``session_s``) and the procedure's result."""
    import _processes as P

    task = {
        "conf": session_conf(settings, extra_conf),
        "kind": kind,
        "sql": sql,
        "orphans_of": orphans_of,
        "older_than": older_than.timestamp() if older_than else None,
    }
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    run = P.measured([sys.executable, str(Path(__file__).resolve()), json.dumps(task)], env)
    return {**run, **json.loads(run.pop("stdout").strip().splitlines()[-1])}


def _fresh_main(task: dict[str, Any]) -> dict[str, Any]:
    """The fresh process of `fresh_spark_run`: start, call, stop, wait for the JVM to exit."""
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    builder = SparkSession.builder.master("local[2]").appName("phlo-benchmark-fresh")
    for key, value in task["conf"].items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    session_s = time.perf_counter() - started
    if task["orphans_of"]:
        older = datetime.fromtimestamp(task["older_than"], UTC)
        seconds, result = spark_delete_orphans(spark, task["orphans_of"], older)
    else:
        seconds, result = spark_call(spark, task["kind"], task["sql"])
    gateway = spark.sparkContext._gateway
    spark.stop()
    gateway.shutdown()
    gateway.proc.stdin.close()  # the JVM exits at the end of its standard input
    gateway.proc.wait(JVM_EXIT_S)  # reaped: its CPU time counts in this process's rusage
    return {"session_s": session_s, "call_s": seconds, "call_cpu_s": result.pop("cpu_s"), **result}


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def spark_procedure_sql(catalog: str, kind: str, ident: str, *, older_than: datetime) -> str:
    """The ``CALL`` of Iceberg's procedure for ``kind`` (optimize, expire, vacuum) on ``ident``."""
    if kind == "optimize":
        return (
            f"CALL {catalog}.system.rewrite_data_files(table => '{ident}', "
            f"options => map('target-file-size-bytes', '{TARGET}'))"
        )
    if kind == "expire":
        return (
            f"CALL {catalog}.system.expire_snapshots(table => '{ident}', "
            f"older_than => TIMESTAMP '{_ts(older_than)}', retain_last => 1)"
        )
    return (
        f"CALL {catalog}.system.remove_orphan_files(table => '{ident}', "
        f"older_than => TIMESTAMP '{_ts(older_than)}')"
    )


def spark_call(spark: Any, kind: str, sql: str) -> tuple[float, dict[str, Any]]:
    """Run ``sql`` (a `spark_procedure_sql`): seconds, JVM CPU seconds and the procedure's result
    (for vacuum, ``orphan_files``: the rows it returned)."""
    cpu = jvm_cpu_s(spark)
    started = time.perf_counter()
    rows = spark.sql(sql).collect()
    seconds = time.perf_counter() - started
    result = {"cpu_s": jvm_cpu_s(spark) - cpu}
    if kind == "vacuum":
        return seconds, {**result, "orphan_files": len(rows)}
    return seconds, {**result, **(rows[0].asDict() if rows else {})}


def spark_delete_orphans(
    spark: Any, table: str, older_than: datetime
) -> tuple[float, dict[str, Any]]:
    """Iceberg's ``DeleteOrphanFiles`` Spark action on ``table`` (``catalog.ns.name``), listing
    through the table's FileIO (prefix listing): the work of ``remove_orphan_files``, whose
    procedure refuses cut-offs under 24 hours (S3 objects are as young as their upload)."""
    jvm, session = spark.sparkContext._jvm, spark._jsparkSession
    iceberg = jvm.org.apache.iceberg.spark
    cpu = jvm_cpu_s(spark)
    started = time.perf_counter()
    loaded = iceberg.Spark3Util.loadIcebergTable(session, table)
    action = iceberg.actions.SparkActions.get(session).deleteOrphanFiles(loaded)
    millis = int(older_than.timestamp() * 1000)
    result = action.olderThan(millis).usePrefixListing(True).execute()
    # Keys ending in "/" are empty directory markers another tool left, not files of the table.
    deleted = sum(1 for location in result.orphanFileLocations() if not location.endswith("/"))
    seconds = time.perf_counter() - started
    return seconds, {"cpu_s": jvm_cpu_s(spark) - cpu, "orphan_files": deleted}


def settle(
    spark: Any, idle_share: float = 0.05, window_s: float = 0.25, most_s: float = 10.0
) -> None:
    """Wait until the Spark JVM is idle (under ``idle_share`` of a core over ``window_s``): after
    a procedure, its JIT compiler and garbage collector keep working for a while, and on a
    2-core machine that would be charged to whichever run comes next."""
    deadline = time.perf_counter() + most_s
    while time.perf_counter() < deadline:
        before = jvm_cpu_s(spark)
        time.sleep(window_s)
        if jvm_cpu_s(spark) - before < idle_share * window_s:
            return


def jvm_cpu_s(spark: Any) -> float:
    """User + system CPU seconds of the Spark JVM (driver and local executors) so far."""
    pid = getattr(spark, "_bench_jvm_pid", None)
    if pid is None:
        pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
        spark._bench_jvm_pid = pid
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    print(json.dumps(_fresh_main(json.loads(sys.argv[1])), default=str))
