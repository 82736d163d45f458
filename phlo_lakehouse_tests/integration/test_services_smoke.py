"""Smoke tests: real round-trips against the services of ``scripts/services/all.sh``.

Start them with ``bash scripts/services/all.sh start && source .services/env.sh``. The
endpoint fixtures (``postgres_url``, ``s3_endpoint``, ``nessie_uri``) come from
``phlo_lakehouse_tests/conftest.py``: a missing variable skips these tests, or fails them
when ``CI=true``. Nothing here is mocked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest

pytestmark = pytest.mark.timeout(300)

S3_BUCKET = os.environ.get("PHLO_TEST_S3_BUCKET", "warehouse")
S3_REGION = os.environ.get("PHLO_TEST_S3_REGION", "us-east-1")
S3_KEY = os.environ.get("PHLO_TEST_S3_ACCESS_KEY_ID", "testing")
S3_SECRET = os.environ.get("PHLO_TEST_S3_SECRET_ACCESS_KEY", "testing")

SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _rows(ids: list[int]) -> pa.Table:
    return pa.table({"id": ids, "name": [f"row{i}" for i in ids]}, schema=SCHEMA)


def _boto3_client(service: str, endpoint: str):
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        region_name=S3_REGION,
    )


def _rest_catalog(nessie_uri: str, ref: str, s3_endpoint: str):
    from pyiceberg.catalog.rest import RestCatalog

    # Nessie hands out s3.endpoint and path-style access itself; the client must bring
    # its own S3 keys (without them pyarrow sends unsigned aws-chunked bodies that moto
    # stores verbatim, i.e. corrupt files).
    return RestCatalog(
        f"nessie_{ref}",
        uri=f"{nessie_uri.rstrip('/')}/iceberg/{ref}",
        **{
            "s3.endpoint": s3_endpoint,
            "s3.access-key-id": S3_KEY,
            "s3.secret-access-key": S3_SECRET,
            "s3.region": S3_REGION,
            "s3.path-style-access": "true",
        },
    )


def _nessie_client(nessie_uri: str):
    import pynessie

    return pynessie.init(
        config_dict={
            "endpoint": f"{nessie_uri.rstrip('/')}/api/v1",
            "default_branch": "main",
            "verify": True,
        }
    )


@pytest.mark.postgres
def test_postgres_roundtrip(postgres_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    table = _unique("smoke")
    try:
        with engine.begin() as conn:
            db, user = conn.execute(sa.text("select current_database(), current_user")).one()
            assert (db, user) == ("lakehouse", "postgres")
            conn.execute(sa.text(f"create table {table} (id int primary key, name text)"))
            conn.execute(
                sa.text(f"insert into {table} values (:id, :name)"),
                [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
            )
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"select id, name from {table} order by id")).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {table}"))
        engine.dispose()


@pytest.mark.moto
def test_s3_bucket_roundtrip(s3_endpoint: str) -> None:
    import s3fs

    s3 = _boto3_client("s3", s3_endpoint)
    assert S3_BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    key = f"smoke/{_unique('obj')}.txt"
    s3.put_object(Bucket=S3_BUCKET, Key=key, Body=b"hello lakehouse")
    try:
        assert s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read() == b"hello lakehouse"
        fs = s3fs.S3FileSystem(
            key=S3_KEY,
            secret=S3_SECRET,
            client_kwargs={"endpoint_url": s3_endpoint, "region_name": S3_REGION},
        )
        assert f"{S3_BUCKET}/{key}" in fs.find(f"{S3_BUCKET}/smoke")
        assert fs.cat_file(f"{S3_BUCKET}/{key}") == b"hello lakehouse"
    finally:
        s3.delete_object(Bucket=S3_BUCKET, Key=key)


@pytest.mark.moto
def test_glue_database_roundtrip(s3_endpoint: str) -> None:
    glue = _boto3_client("glue", os.environ.get("PHLO_TEST_GLUE_ENDPOINT", s3_endpoint))
    name = _unique("smoke_db")
    glue.create_database(DatabaseInput={"Name": name, "Description": "smoke test"})
    try:
        db = glue.get_database(Name=name)["Database"]
        assert db["Name"] == name
        assert db["Description"] == "smoke test"
        assert name in {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    finally:
        glue.delete_database(Name=name)


@pytest.mark.nessie
def test_iceberg_rest_catalog_roundtrip(nessie_uri: str, s3_endpoint: str) -> None:
    catalog = _rest_catalog(nessie_uri, "main", s3_endpoint)
    namespace = _unique("smoke")
    catalog.create_namespace(namespace)
    assert (namespace,) in catalog.list_namespaces()
    table = catalog.create_table(f"{namespace}.events", schema=SCHEMA)
    assert table.metadata_location.startswith(f"s3://{S3_BUCKET}/")
    table.append(_rows([1, 2, 3]))
    table.append(_rows([4]))

    # A second catalog instance reads what the first wrote (metadata via Nessie,
    # data/manifest files from S3).
    reread = _rest_catalog(nessie_uri, "main", s3_endpoint).load_table(f"{namespace}.events")
    result = reread.scan().to_arrow().sort_by("id")
    assert result.column("id").to_pylist() == [1, 2, 3, 4]
    assert result.column("name").to_pylist() == ["row1", "row2", "row3", "row4"]
    assert reread.metadata.last_sequence_number == 2
    # Nessie's catalog keeps only the current snapshot in the table metadata (older
    # snapshots live in Nessie's commit log): two appends still give one snapshot.
    assert len(reread.metadata.snapshots) == 1

    s3 = _boto3_client("s3", s3_endpoint)
    listed = s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{namespace}/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert any(k.endswith(".parquet") for k in keys), keys

    catalog.drop_table(f"{namespace}.events")
    catalog.drop_namespace(namespace)


@pytest.fixture
def dev_branch(nessie_uri: str) -> Iterator[str]:
    """Branch ``dev`` of the Nessie server, removed afterwards."""
    from pynessie.error import NessieNotFoundException

    client = _nessie_client(nessie_uri)

    def drop() -> None:
        try:
            ref = client.get_reference("dev")
        except NessieNotFoundException:
            return
        client.delete_branch("dev", ref.hash_)

    drop()
    yield "dev"
    drop()


@pytest.mark.nessie
def test_nessie_branch_isolation(nessie_uri: str, s3_endpoint: str, dev_branch: str) -> None:
    main = _rest_catalog(nessie_uri, "main", s3_endpoint)
    namespace = _unique("smoke")
    ident = f"{namespace}.orders"
    main.create_namespace(namespace)
    main.create_table(ident, schema=SCHEMA).append(_rows([1, 2]))
    main_snapshot = main.load_table(ident).current_snapshot().snapshot_id

    client = _nessie_client(nessie_uri)
    head = client.get_reference("main")
    # pynessie 0.67 (API v1): the hash keyword is ``hash_on_ref``.
    created = client.create_branch(dev_branch, ref="main", hash_on_ref=head.hash_)
    assert created.name == dev_branch
    assert created.hash_ == head.hash_
    assert dev_branch in {r.name for r in client.list_references().references}

    dev = _rest_catalog(nessie_uri, dev_branch, s3_endpoint)
    assert (namespace, "orders") in dev.list_tables(namespace)
    dev_table = dev.load_table(ident)
    assert dev_table.current_snapshot().snapshot_id == main_snapshot
    dev_table.append(_rows([100]))

    dev_ids = dev.load_table(ident).scan().to_arrow().column("id").to_pylist()
    assert sorted(dev_ids) == [1, 2, 100]
    main_table = _rest_catalog(nessie_uri, "main", s3_endpoint).load_table(ident)
    assert main_table.current_snapshot().snapshot_id == main_snapshot
    assert sorted(main_table.scan().to_arrow().column("id").to_pylist()) == [1, 2]
    assert client.get_reference("main").hash_ == head.hash_
    assert client.get_reference(dev_branch).hash_ != head.hash_
