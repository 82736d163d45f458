"""Fixtures for the migration tests: the real Hive metastore (``scripts/services/hive.sh``),
moto's Glue and S3, and a Spark of our own with Hive support (``_workers/spark_worker.py``).

Source tables are real: Spark writes partitioned Parquet Hive tables through the metastore;
Glue tables are created with boto3 over Parquet objects on moto's S3; smaller scenarios write
Parquet with pyarrow and register the Hive table through the metastore's thrift API. A missing
service skips its tests, and fails them with ``CI=true``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, missing_service, require_env

REPO_ROOT = Path(__file__).resolve().parents[2]
AWS_BUNDLE = "org.apache.iceberg:iceberg-aws-bundle:1.10.1"
SPARK_START_TIMEOUT = 180
SPARK_QUERY_TIMEOUT = 180


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hive: needs the Hive metastore (scripts/services/hive.sh)")


# -- services -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hive_uri() -> str:
    """The metastore's thrift URI; a set but unreachable one skips (fails in CI) too."""
    import socket
    from urllib.parse import urlparse

    uri = require_env("PHLO_TEST_HIVE_URI", "hive")
    parsed = urlparse(uri)
    try:
        socket.create_connection((parsed.hostname, parsed.port), timeout=5).close()
    except OSError as e:
        message = f"the Hive metastore at {uri} is down ({e}): bash scripts/services/hive.sh start"
        missing_service(message)
    return uri


@pytest.fixture(scope="session")
def hive_lakehouse(hive_uri: str, tmp_path_factory: pytest.TempPathFactory) -> IcebergLakehouse:
    """The Hive catalog on the test metastore (Iceberg tables: where migrate mode puts them)."""
    warehouse = tmp_path_factory.mktemp("hive-warehouse")
    return IcebergLakehouse(
        CatalogSettings(type="hive", name="hive", uri=hive_uri, warehouse=f"file://{warehouse}")
    )


@pytest.fixture
def database(hive_uri: str, tmp_path: Path) -> Iterator[str]:
    """A fresh Hive database whose location is this test's temp dir."""
    name = "m" + uuid.uuid4().hex[:10]
    with hive_client(hive_uri) as client:
        from hive_metastore.ttypes import Database

        client.create_database(Database(name=name, locationUri=f"file:{tmp_path}/{name}.db"))
    yield name


class hive_client:
    """An open thrift client of the metastore at ``uri``."""

    def __init__(self, uri: str) -> None:
        from urllib.parse import urlparse

        from thrift.transport import TSocket, TTransport

        parsed = urlparse(uri)
        self.transport = TTransport.TBufferedTransport(
            TSocket.TSocket(parsed.hostname, parsed.port)
        )

    def __enter__(self) -> Any:
        from hive_metastore.ThriftHiveMetastore import Client
        from thrift.protocol import TBinaryProtocol

        self.transport.open()
        return Client(TBinaryProtocol.TBinaryProtocol(self.transport))

    def __exit__(self, *exc: object) -> None:
        self.transport.close()


# -- source tables ------------------------------------------------------------------------------

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.float64())])
DAYS = ("2026-01-01", "2026-01-02", "2026-01-03")


def day_rows(day: str, start: int, count: int) -> pa.Table:
    """``count`` rows for partition ``day`` with ids from ``start``."""
    ids = list(range(start, start + count))
    return pa.table(
        {"id": ids, "name": [f"{day}-{i}" for i in ids], "amount": [i * 1.5 for i in ids]},
        schema=SCHEMA,
    )


def write_hive_parquet_table(
    uri: str,
    database: str,
    name: str,
    root: Path,
    *,
    files_per_day: int = 2,
    rows_per_file: int = 5,
    days: Sequence[str] = DAYS,
    input_format: str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    serde: str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    columns: Sequence[tuple[str, str]] = (
        ("id", "bigint"),
        ("name", "string"),
        ("amount", "double"),
    ),
    write: bool = True,
) -> list[dict[str, Any]]:
    """A partitioned (dt) Hive table of Parquet files written by pyarrow, Hive layout, registered
    through the thrift API (an EXTERNAL table). Returns its rows."""
    from hive_metastore.ttypes import (
        FieldSchema,
        Partition,
        SerDeInfo,
        StorageDescriptor,
        Table,
    )

    location = root / f"{database}.db" / name
    rows: list[dict[str, Any]] = []
    next_id = 0

    def _sd(where: str, cols: Sequence[tuple[str, str]]) -> StorageDescriptor:
        return StorageDescriptor(
            cols=[FieldSchema(n, t, None) for n, t in cols],
            location=where,
            inputFormat=input_format,
            outputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            serdeInfo=SerDeInfo(serializationLib=serde, parameters={}),
            parameters={},
        )

    partitions = []
    for day in days:
        folder = location / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(files_per_day):
            table = day_rows(day, next_id, rows_per_file)
            next_id += rows_per_file
            if write:
                pq.write_table(table, folder / f"part-{number:05d}.parquet")
            rows.extend({**r, "dt": day} for r in table.to_pylist())
        (folder / "_SUCCESS").write_text("")
        partitions.append(
            Partition(
                values=[day],
                dbName=database,
                tableName=name,
                sd=_sd(f"file:{folder}", columns),
                parameters={},
            )
        )
    hive_table = Table(
        tableName=name,
        dbName=database,
        owner="tests",
        sd=_sd(f"file:{location}", columns),
        partitionKeys=[FieldSchema("dt", "string", None)],
        parameters={"EXTERNAL": "TRUE"},
        tableType="EXTERNAL_TABLE",
    )
    with hive_client(uri) as client:
        client.create_table(hive_table)
        if partitions:
            client.add_partitions(partitions)
    return rows


def hive_table_names(uri: str, database: str) -> list[str]:
    with hive_client(uri) as client:
        return sorted(client.get_all_tables(database))


def sorted_rows(rows: Sequence[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    """Rows with plain Python values, sorted by ``key`` (engines differ in order and types)."""
    plain = []
    for row in rows:
        plain.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()})
    return sorted(plain, key=lambda r: r[key])


# -- moto: S3 and Glue --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    return require_env("PHLO_TEST_S3_ENDPOINT", "moto")


def glue_properties(endpoint: str) -> dict[str, str]:
    """PyIceberg Glue catalog + S3 properties for moto."""
    return {
        **S3_TEST_PROPERTIES,
        "s3.endpoint": endpoint,
        "glue.endpoint": endpoint,
        "glue.region": "us-east-1",
        "glue.access-key-id": "testing",
        "glue.secret-access-key": "testing",
    }


@pytest.fixture
def glue_lakehouse(moto_endpoint: str) -> IcebergLakehouse:
    return IcebergLakehouse(
        CatalogSettings(
            type="glue",
            name="glue",
            warehouse="s3://warehouse/glue-iceberg",
            properties=glue_properties(moto_endpoint),
        )
    )


@pytest.fixture
def glue(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "glue",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_filesystem(endpoint: str) -> Any:
    from pyarrow.fs import S3FileSystem

    return S3FileSystem(
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        endpoint_override=endpoint,
        scheme="http",
    )


def write_glue_parquet_table(
    glue: Any,
    endpoint: str,
    database: str,
    name: str,
    *,
    files_per_day: int = 2,
    rows_per_file: int = 5,
    classification: str = "parquet",
    input_format: str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    serde: str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    columns: Sequence[tuple[str, str]] = (
        ("id", "bigint"),
        ("name", "string"),
        ("amount", "double"),
    ),
) -> list[dict[str, Any]]:
    """A dt-partitioned Glue table over Parquet objects in s3://warehouse/<database>/<name>/."""
    fs = s3_filesystem(endpoint)
    prefix = f"warehouse/{database}/{name}"
    rows: list[dict[str, Any]] = []
    next_id = 0

    def _sd(location: str) -> dict[str, Any]:
        return {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": location,
            "InputFormat": input_format,
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": serde},
        }

    partitions = []
    for day in DAYS:
        for number in range(files_per_day):
            table = day_rows(day, next_id, rows_per_file)
            next_id += rows_per_file
            with fs.open_output_stream(f"{prefix}/dt={day}/part-{number:05d}.parquet") as out:
                pq.write_table(table, out)
            rows.extend({**r, "dt": day} for r in table.to_pylist())
        partitions.append({"Values": [day], "StorageDescriptor": _sd(f"s3://{prefix}/dt={day}/")})
    try:
        glue.create_database(DatabaseInput={"Name": database})
    except glue.exceptions.AlreadyExistsException:
        pass
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": name,
            "StorageDescriptor": _sd(f"s3://{prefix}/"),
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": classification, "EXTERNAL": "TRUE"},
        },
    )
    glue.batch_create_partition(
        DatabaseName=database, TableName=name, PartitionInputList=partitions
    )
    return rows


# -- Spark ----------------------------------------------------------------------------------------


def _unavailable(message: str) -> None:
    missing_service(f"Spark unavailable: {message}")


def aws_bundle_jar() -> Path:
    """The Iceberg AWS bundle (S3FileIO, GlueCatalog for Spark), fetched with mvn if missing."""
    group, artifact, version = AWS_BUNDLE.split(":")
    repo = Path(os.environ.get("MAVEN_REPO", Path.home() / ".m2" / "repository"))
    jar = repo / group.replace(".", "/") / artifact / version / f"{artifact}-{version}.jar"
    if not jar.is_file():
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get",
                "-Dtransitive=false",
                f"-Dmaven.repo.local={repo}",
                f"-Dartifact={AWS_BUNDLE}",
            ],
            check=False,
            capture_output=True,
            timeout=600,
        )
    return jar


class SparkWorker:
    """The Spark subprocess (`_workers/spark_worker.py`): ``sql(statement)`` returns rows."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "phlo_lakehouse_tests.migration._workers.spark_worker", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=REPO_ROOT,
        )
        self.lock = threading.Lock()
        self._read(SPARK_START_TIMEOUT)

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        result: dict[str, Any] = {}

        def _reader() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if line.startswith("@@"):
                    result.update(json.loads(line[2:]))
                    return

        reader = threading.Thread(target=_reader, daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if not result:
            raise RuntimeError(f"the Spark worker did not answer (log: {self.log.name})")
        return result

    def sql(self, statement: str) -> list[dict[str, Any]]:
        with self.lock:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"sql": statement}) + "\n")
            self.process.stdin.flush()
            answer = self._read(SPARK_QUERY_TIMEOUT)
        if "error" in answer:
            raise AssertionError(f"Spark failed on {statement!r}: {answer['error']}")
        return answer["rows"]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def spark_hive(hive_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkWorker]:
    """A Spark with Hive support on the test metastore (and Iceberg catalogs hive_ice, glue_ice)."""
    from phlo_lakehouse_tests.integration.conftest import FETCH_HINT, spark_jars

    jars = spark_jars()
    if not jars or not all(Path(j).is_file() for j in jars):
        _unavailable(f"Iceberg runtime jars missing: {FETCH_HINT}")
    s3_endpoint = os.environ.get("PHLO_TEST_S3_ENDPOINT")
    if s3_endpoint:
        bundle = aws_bundle_jar()
        if not bundle.is_file():
            _unavailable(f"{AWS_BUNDLE} missing and mvn could not fetch it")
        jars = [*jars, str(bundle)]
    work = tmp_path_factory.mktemp("spark-hive")
    args = [
        "--metastore",
        hive_uri,
        "--warehouse",
        str(work / "warehouse"),
        "--jars",
        ":".join(jars),
    ]
    if s3_endpoint:
        args += ["--s3-endpoint", s3_endpoint]
    worker = SparkWorker(args, work / "spark.log")
    yield worker
    worker.close()
