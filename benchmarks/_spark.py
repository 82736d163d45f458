"""The Spark baselines the benchmarks measure against: a warm ``local[2]`` session on the same
catalog, Iceberg's procedures, and the JVM's CPU time from /proc.

Example:
    >>> spark_procedure_sql("lh", "vacuum", "b.v", older_than=datetime(2026, 1, 1)).split("(")[0]
    'CALL lh.system.remove_orphan_files'
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: The optimize target of every benchmark (128 MiB).
TARGET = 128 * 1024 * 1024


def spark_session(settings: Any, app_name: str, extra_conf: dict[str, str] | None = None) -> Any:
    """A ``local[2]`` Spark session whose Iceberg catalog is ``settings``' (4 GB driver)."""
    from phlo_lakehouse.testing.spark import spark_session_for

    jars = (
        subprocess.run(
            ["bash", str(Path(__file__).resolve().parents[1] / "scripts" / "spark_jars.sh")],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .split(":")
    )
    conf = {"spark.driver.memory": "4g", "spark.sql.adaptive.enabled": "true"}
    conf.update(extra_conf or {})
    return spark_session_for(settings, jars, app_name=app_name, extra_conf=conf)


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
