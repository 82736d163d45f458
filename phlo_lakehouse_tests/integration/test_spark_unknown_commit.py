"""The Spark engine's unknown commit outcome, settled by re-reading the table: a real local Spark
(Iceberg's Spark runtime) compacts a table on the real Iceberg REST catalog through a
`FaultProxy`, which answers Spark's commit request with 504 — once after the catalog applied it
(a gateway timing out), once instead of forwarding it. Iceberg's REST client reports both as
``CommitStateUnknownException``; the engine re-reads the table: the applied commit is reported
as a success, the other raises `CommitStateUnknown` and the table is as it was.

The oracle reads the table through a catalog that bypasses the proxy and lists the bucket with
boto3.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.engines import SparkEngine
from phlo_lakehouse.errors import CommitStateUnknown
from phlo_lakehouse.operations import OptimizeOperation
from phlo_lakehouse.testing.fault_proxy import FaultProxy
from phlo_lakehouse.testing.faults import Fault
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, moto_client, require_env
from phlo_lakehouse_tests.operations.conftest import referenced_by, rows_of

pytestmark = [pytest.mark.spark, pytest.mark.iceberg_rest, pytest.mark.moto]

GATEWAY_TIMEOUT = b'{"error": {"message": "injected: gateway timeout", "type": "X", "code": 504}}'


def _commit_504(kind: str) -> Fault:
    return Fault(kind, method="POST", path=r"/tables/events$", status=504, count=1,
                 body=GATEWAY_TIMEOUT)  # fmt: skip


def _stored(s3, location: str) -> set[str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return {f"s3://{bucket}/{o['Key']}" for page in pages for o in page.get("Contents", [])}


def _files(handle) -> int:
    return sum(1 for _ in handle.table.scan().plan_files())


def test_spark_commits_whose_answer_is_lost_are_settled_by_re_reading_the_table(spark, s3_endpoint):
    catalog_uri = require_env("PHLO_TEST_ICEBERG_REST_CATALOG", "iceberg_rest")
    server = urlsplit(catalog_uri)
    props = {**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint}
    direct = IcebergLakehouse(CatalogSettings(type="rest", uri=catalog_uri, properties=props))
    namespace = f"sparklost{uuid.uuid4().hex[:8]}"
    name = f"{namespace}.events"
    seed_demo_table(direct, name, commits=6, rows_per_commit=20)
    s3 = moto_client(s3_endpoint)
    with FaultProxy(server.hostname or "127.0.0.1", server.port or 80) as proxy:
        faulty = CatalogSettings(type="rest", name=f"faulty_{namespace}",
                                 uri=proxy.url + server.path, properties=props)  # fmt: skip
        lakehouse = IcebergLakehouse(faulty)
        engine = SparkEngine(faulty, session=spark)

        # Never applied: the table must not move, and the error says what to do.
        before = direct.get_table(name)
        rows, files = rows_of(before), _files(before)
        with proxy.fault(_commit_504("status")) as refused:
            with pytest.raises(CommitStateUnknown, match="outcome is unknown") as caught:
                lakehouse.run(OptimizeOperation(), name, engine=engine)
        assert refused.fired == 1 and caught.value.hint
        unchanged = direct.get_table(name)
        assert unchanged.snapshot_id == before.snapshot_id
        assert rows_of(unchanged) == rows and _files(unchanged) == files

        # Applied, answer lost: reported as the success it was.
        results = []
        outcome = proxy.trial(
            _commit_504("gateway_error"),
            lambda: results.append(lakehouse.run(OptimizeOperation(), name, engine=engine)),
        )
    assert outcome == "committed"
    (result,) = results
    assert result.committed
    assert result.details["commit_outcome"] == "settled by re-reading the table"
    after = direct.get_table(name)
    assert after.snapshot_id == result.snapshot_id_after != before.snapshot_id
    assert after.table.current_snapshot().summary.operation.value == "replace"
    assert rows_of(after) == rows and _files(after) < files
    table = after.table
    wanted = {table.metadata_location} | referenced_by(table.metadata, table.io)
    assert wanted <= _stored(s3, table.location())
    direct.catalog().drop_table((namespace, "events"))
    direct.catalog().drop_namespace((namespace,))
