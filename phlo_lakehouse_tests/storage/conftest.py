"""Fixtures for object-store tests: moto behind a fault-injection proxy, and a direct client to
moto that checks what really happened (the oracle never goes through the proxy)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from phlo_lakehouse.testing.fault_proxy import FaultProxy
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, moto_client


@pytest.fixture
def moto_proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    """A `FaultProxy` in front of moto_server."""
    parts = urlsplit(s3_endpoint)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 80) as proxy:
        yield proxy


@pytest.fixture
def direct_s3(s3_endpoint: str):
    """A boto3 client talking to moto directly (the test's oracle)."""
    return moto_client(s3_endpoint)


@pytest.fixture
def bucket(direct_s3) -> str:
    name = "b" + uuid.uuid4().hex[:12]
    direct_s3.create_bucket(Bucket=name)
    return name


def proxied_properties(proxy: FaultProxy) -> dict[str, str]:
    """FileIO properties that reach moto through ``proxy``."""
    return {**S3_TEST_PROPERTIES, "s3.endpoint": proxy.url}


def put_objects(client, bucket: str, keys: list[str]) -> list[str]:
    """Write one small object per key (directly to moto); their s3:// URIs."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))
    return [f"s3://{bucket}/{k}" for k in keys]


def stored_keys(client, bucket: str) -> set[str]:
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}
