"""Benchmark: metadata-only migration of a Hive table with 10,000+ Parquet files vs. listing them.

Builds (once per ``--files``; later runs reuse the files) a Hive-layout directory of N tiny
Parquet files in P ``dt=`` partitions, registers it as an EXTERNAL Parquet table in a fresh
database of the real Hive metastore (``scripts/services/hive.sh``, ``PHLO_TEST_HIVE_URI``), then
measures on it:

* list - `list_source_files` over the metastore's partitions: the time to merely list the files
  (median of 3);
* migrate - `HiveMigration(..., mode="snapshot").migrate_table(...)` into an embedded SQLite
  catalog: describe + list (plan), read every footer and build the data files, one commit,
  rename (no validation, as a plain metadata migration);
* validate (``--validate``) - `validate_migration` once: file set, row count from footers,
  schema, 3 sampled checksums.

It checks that the Iceberg table has exactly N data files and N x rows-per-file rows, and prints
files per second for the migration against the listing rate.

Usage:
    bash scripts/services/hive.sh start
    .venv/bin/python benchmarks/migration.py [--files 10000] [--partitions 100] [--validate]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from phlo_lakehouse import CatalogSettings, IcebergLakehouse

DEFAULT_FILES = 10_000
DEFAULT_PARTITIONS = 100
DEFAULT_HOME = Path(__file__).resolve().parent / ".work" / "migration"
ROWS_PER_FILE = 3
MARKER = "built.json"


def build_files(root: Path, files: int, partitions: int) -> list[tuple[str, Path]]:
    """N Parquet files (copies of one tiny file) in ``dt=`` partition folders, built once."""
    days = [f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(partitions)]
    folders = [(day, root / "data" / f"dt={day}") for day in days]
    marker = root / MARKER
    wanted = {"files": files, "partitions": partitions}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return folders
    shutil.rmtree(root / "data", ignore_errors=True)
    template = root / "template.parquet"
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({"id": pa.array(range(ROWS_PER_FILE), pa.int64()), "name": ["a", "b", "c"]}),
        template,
    )
    for number in range(files):
        day, folder = folders[number % partitions]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, folder / f"part-{number:06d}.parquet")
    marker.write_text(json.dumps(wanted))
    return folders


def register_hive_table(uri: str, root: Path, folders: list[tuple[str, Path]]) -> str:
    """A fresh database with one EXTERNAL Parquet table over the files; returns db.table."""
    from urllib.parse import urlparse

    from hive_metastore.ThriftHiveMetastore import Client
    from hive_metastore.ttypes import (
        Database,
        FieldSchema,
        Partition,
        SerDeInfo,
        StorageDescriptor,
        Table,
    )
    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TSocket, TTransport

    database = "bench" + uuid.uuid4().hex[:8]
    cols = [FieldSchema("id", "bigint", None), FieldSchema("name", "string", None)]

    def _sd(location: str) -> StorageDescriptor:
        return StorageDescriptor(
            cols=cols,
            location=location,
            inputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            outputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            serdeInfo=SerDeInfo(
                serializationLib="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
            ),
        )

    parsed = urlparse(uri)
    transport = TTransport.TBufferedTransport(TSocket.TSocket(parsed.hostname, parsed.port))
    transport.open()
    try:
        client = Client(TBinaryProtocol.TBinaryProtocol(transport))
        client.create_database(Database(name=database, locationUri=f"file:{root}/{database}.db"))
        client.create_table(
            Table(
                tableName="events",
                dbName=database,
                sd=_sd(f"file:{root / 'data'}"),
                partitionKeys=[FieldSchema("dt", "string", None)],
                parameters={"EXTERNAL": "TRUE"},
                tableType="EXTERNAL_TABLE",
            )
        )
        client.add_partitions(
            [
                Partition(values=[day], dbName=database, tableName="events", sd=_sd(f"file:{f}"))
                for day, f in folders
            ]
        )
    finally:
        transport.close()
    return f"{database}.events"


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=DEFAULT_FILES)
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--threads", type=int, default=8, help="parallel footer reads")
    parser.add_argument("--validate", action="store_true", help="also time validate_migration")
    parser.add_argument(
        "--metastore", default=os.environ.get("PHLO_TEST_HIVE_URI", "thrift://127.0.0.1:21083")
    )
    args = parser.parse_args(argv)

    from phlo_lakehouse.migration import HiveMigration
    from phlo_lakehouse.migration.datafiles import list_source_files

    home = args.home.absolute()
    t_build, folders = _timed(lambda: build_files(home, args.files, args.partitions))
    table_name = register_hive_table(args.metastore, home, folders)
    target_home = home / "targets" / table_name.split(".")[0]
    target = IcebergLakehouse(CatalogSettings.embedded(target_home))
    migration = HiveMigration(
        target, metastore_uri=args.metastore, validate=False, threads=args.threads
    )
    source = migration._describe(migration.target_identifier(table_name))  # noqa: SLF001
    assert source is not None
    io = migration._io()  # noqa: SLF001

    listings = [_timed(lambda: list_source_files(io, source.storage_units))[0] for _ in range(3)]
    t_list = statistics.median(listings)
    listed = len(list_source_files(io, source.storage_units))

    t_plan, plan = _timed(lambda: migration.plan(table_name))
    t_migrate, result = _timed(lambda: migration.migrate_table(table_name))
    t_total = t_plan + t_migrate  # migrate_table plans again: t_migrate covers everything
    migrated = target.get_table(table_name).table
    data_files = len(migrated.inspect.files())
    rows = int(migrated.current_snapshot().summary["total-records"])
    report: dict[str, Any] = {
        "files": args.files,
        "partitions": args.partitions,
        "listed_files": listed,
        "list_seconds": round(t_list, 3),
        "list_files_per_second": round(listed / t_list),
        "plan_seconds": round(t_plan, 3),
        "migrate_seconds": round(t_migrate, 3),
        "migrate_files_per_second": round(args.files / t_migrate),
        "migrate_vs_list": round(t_migrate / t_list, 1),
        "iceberg_data_files": data_files,
        "iceberg_rows": rows,
        "status": result.status,
        "build_seconds": round(t_build, 1),
        "footer_threads": args.threads,
        "cpus": os.cpu_count(),
    }
    if args.validate:
        t_validate, validation = _timed(lambda: migration.validate_migration(table_name))
        report["validate_seconds"] = round(t_validate, 3)
        report["validation_passed"] = validation.passed
    print(
        f"listing {listed} files: {t_list:.2f}s ({listed / t_list:,.0f} files/s); "
        f"metadata-only migration: {t_migrate:.2f}s ({args.files / t_migrate:,.0f} files/s, "
        f"{t_migrate / t_list:.0f}x the listing time)"
    )
    print(json.dumps(report, indent=2))
    ok = data_files == args.files == listed and rows == args.files * ROWS_PER_FILE
    ok = ok and result.status == "migrated" and report.get("validation_passed", True)
    if not ok:
        print("FAILED: the migrated table does not have every file and row", file=sys.stderr)
    del t_total, plan
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
