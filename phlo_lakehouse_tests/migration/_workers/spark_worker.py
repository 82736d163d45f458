"""A long-lived Spark process for the migration tests: Hive support on the test metastore, and
Iceberg catalogs over the same metastore (``hive_ice``), over moto's Glue (``glue_ice``) and over
an embedded SQLite catalog (``<sql name>``, when given).

Spark's catalog implementation (Hive or in-memory) is fixed when the first session of a JVM
starts, and the cross-engine tests start theirs without Hive, so the migration tests talk to a
Spark of their own in this subprocess. It reads one JSON request per line on stdin and answers
each with one line on stdout that starts with ``@@``::

    {"sql": "SELECT * FROM hive_ice.db.t"}   ->  @@{"rows": [{"id": 1, ...}, ...]}
                                             or  @@{"error": "AnalysisException: ..."}

Start-up is announced with ``@@{"ready": true}``.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import json
import os
import sys


def _plain(value: object) -> object:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return value


def build_session(args: argparse.Namespace) -> object:
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("phlo-migration-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraClassPath", args.jars)
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.hadoop.hive.metastore.uris", args.metastore)
        .config("spark.hadoop.hive.exec.dynamic.partition.mode", "nonstrict")
        .config("spark.sql.warehouse.dir", args.warehouse)
        .config(
            "spark.sql.extensions",
            "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        )
        .config("spark.sql.catalog.hive_ice", "org.apache.iceberg.spark.SparkCatalog")
        .config("spark.sql.catalog.hive_ice.type", "hive")
        .config("spark.sql.catalog.hive_ice.uri", args.metastore)
        .config("spark.sql.catalog.hive_ice.cache-enabled", "false")
    )
    if args.s3_endpoint:
        glue = "spark.sql.catalog.glue_ice"
        for key, value in {
            glue: "org.apache.iceberg.spark.SparkCatalog",
            f"{glue}.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
            f"{glue}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
            f"{glue}.glue.endpoint": args.s3_endpoint,
            f"{glue}.client.region": "us-east-1",
            f"{glue}.s3.endpoint": args.s3_endpoint,
            f"{glue}.s3.path-style-access": "true",
            f"{glue}.s3.access-key-id": "testing",
            f"{glue}.s3.secret-access-key": "testing",
            f"{glue}.warehouse": "s3://warehouse/spark-glue",
            f"{glue}.cache-enabled": "false",
        }.items():
            builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metastore", required=True)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--jars", required=True, help="colon-separated jar paths")
    parser.add_argument("--s3-endpoint", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    session = build_session(args)
    out = sys.stdout
    out.write("@@" + json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            rows = session.sql(request["sql"]).collect()
            answer = {"rows": [{k: _plain(v) for k, v in r.asDict().items()} for r in rows]}
        except Exception as error:  # noqa: BLE001 - reported to the test, which fails on it
            text = str(error).splitlines()[0][:500] if str(error) else ""
            answer = {"error": f"{type(error).__name__}: {text}"}
        out.write("@@" + json.dumps(answer, default=str) + "\n")
        out.flush()
    session.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
