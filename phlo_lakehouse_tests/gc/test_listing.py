"""Streaming listings of base locations: local files and S3 on moto, page by page, hidden files
skipped, nothing from a sibling location, listing failures reported before anything is deleted."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from phlo_lakehouse.errors import InvalidConfig, OperationFailed
from phlo_lakehouse.gc.listing import list_location
from phlo_lakehouse.gc.sweep import sweep_roots
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES
from phlo_lakehouse_tests.gc.oracle import put, s3_client


def _all(location, properties, **kwargs):
    return sorted(f[0] for page in list_location(location, properties, **kwargs) for f in page)


def test_local_listing_skips_hidden_files_and_siblings(tmp_path):
    table = tmp_path / "events"
    for relative in (
        "data/a.parquet",
        "data/dt=1/b.parquet",
        "data/_dt=2/c.parquet",  # Hive-style partition directory: not hidden
        "data/_temporary/d.parquet",
        "data/.e.parquet.crc",
        "metadata/v1.metadata.json",
    ):
        (table / relative).parent.mkdir(parents=True, exist_ok=True)
        (table / relative).write_bytes(b"x")
    (tmp_path / "events_v2").mkdir()
    (tmp_path / "events_v2" / "f.parquet").write_bytes(b"x")
    listed = _all(f"file://{table}", {})
    assert listed == [
        f"file://{table}/data/_dt=2/c.parquet",
        f"file://{table}/data/a.parquet",
        f"file://{table}/data/dt=1/b.parquet",
        f"file://{table}/metadata/v1.metadata.json",
    ]
    assert _all(f"file://{tmp_path}/missing", {}) == []


@pytest.mark.moto
def test_s3_listing_pages_through_every_directory_in_parallel(s3_endpoint):
    s3 = s3_client(s3_endpoint)
    base = f"s3://warehouse/gc-listing-{uuid.uuid4().hex[:8]}/t"
    expected = {f"{base}/data/part-{i:04d}.parquet" for i in range(1_010)}  # > one page
    expected |= {f"{base}/metadata/m{i}.avro" for i in range(3)} | {f"{base}/top.json"}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda uri: put(s3, uri), expected | {f"{base}/data/_tmp/x", f"{base}-y/z"}))
    properties = {**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint}
    pages = list(list_location(base, properties, threads=4))
    assert max(len(p) for p in pages) <= 1000
    assert {f[0] for p in pages for f in p} == expected
    assert all(size == len(b"orphan") and mtime > 0 for p in pages for _, size, mtime in p)
    assert _all(base, properties, threads=1) == sorted(expected)


@pytest.mark.moto
def test_a_location_the_credentials_cannot_list_is_bad_configuration(s3_endpoint):
    properties = {**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint}
    with pytest.raises(InvalidConfig) as info:
        _all("s3://no-such-bucket-gc/t", properties)
    assert "credentials cannot list s3://no-such-bucket-gc/t" in info.value.message
    assert "nothing was deleted" in info.value.hint and info.value.exit_code == 2


def test_an_unreachable_store_is_an_operation_failure(tmp_path):
    properties = {**S3_TEST_PROPERTIES, "s3.endpoint": "http://127.0.0.1:9"}
    with pytest.raises(OperationFailed) as info:
        _all("s3://warehouse/t", {**properties, "s3.connect-timeout": "1"})
    assert "cannot list s3://warehouse/t" in info.value.message


def test_nested_locations_are_listed_once_and_roots_never():
    roots, skipped = sweep_roots(
        ["s3://b/t", "s3a://b/t/data", "s3://b/t2", "s3://b/", "file:///w/t", "/w/t/x"]
    )
    assert roots == ["file:///w/t", "s3://b/t", "s3://b/t2"]
    assert skipped == ["s3://b/"]
