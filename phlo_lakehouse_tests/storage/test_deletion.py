"""`delete_files` on real storage: local files, and S3 on moto behind a fault-injection proxy
(503 on a share of DeleteObjects, lost responses, per-key throttling, lasting failures)."""

from __future__ import annotations

import re

import pytest
from pyiceberg.io.pyarrow import PyArrowFileIO

from phlo_lakehouse.retry import RetryPolicy
from phlo_lakehouse.storage import delete_files
from phlo_lakehouse.testing.faults import S3_SLOW_DOWN, Fault, HttpRequest
from phlo_lakehouse_tests.storage.conftest import proxied_properties, put_objects, stored_keys

FAST = RetryPolicy(num_retries=8, min_wait_ms=5, max_wait_ms=40, total_timeout_ms=30_000)
DELETE_OBJECTS = r"\?delete"


def _slow_down(**kwargs) -> Fault:
    return Fault(
        "status",
        method="POST",
        path=DELETE_OBJECTS,
        body=S3_SLOW_DOWN,
        content_type="application/xml",
        **kwargs,
    )


def test_local_files_deleted_missing_ones_count_as_gone_and_failures_have_a_reason(tmp_path):
    files = [tmp_path / f"f{i}.parquet" for i in range(6)]
    for f in files:
        f.write_bytes(b"x")
    directory = tmp_path / "not-a-file"
    directory.mkdir()
    paths = [f"file://{f}" for f in files[:3]] + [str(f) for f in files[3:]]
    paths += [f"file:{tmp_path}/missing.parquet", f"file://{directory}"]

    result = delete_files(PyArrowFileIO(), paths)

    assert not any(f.exists() for f in files)
    assert directory.exists()
    assert result.requested == 8 and result.deleted_count == 7
    assert list(result.failed) == [f"file://{directory}"]
    assert re.match(r"(IsADirectoryError|PermissionError|OSError): ", result.failed[paths[-1]])
    assert result.deleted_from(paths) == paths[:-1]


@pytest.mark.moto
def test_s3_keys_go_in_batches_of_1000(moto_proxy, direct_s3, bucket):
    uris = put_objects(direct_s3, bucket, [f"t/data/{i:05d}.parquet" for i in range(1001)])
    keep = put_objects(direct_s3, bucket, ["t/data/keep.parquet"])

    result = delete_files(PyArrowFileIO(proxied_properties(moto_proxy)), uris)

    assert result.ok and result.deleted_count == 1001 and result.attempts == 1
    assert stored_keys(direct_s3, bucket) == {keep[0].split("/", 3)[3]}
    assert moto_proxy.log.count("forwarded", method="POST") == 2  # 1,000 + 1 keys


@pytest.mark.moto
def test_s3_throttled_requests_are_retried_until_every_key_is_gone(moto_proxy, direct_s3, bucket):
    uris = put_objects(direct_s3, bucket, [f"t/{i:04d}.avro" for i in range(60)])
    fault = moto_proxy.add(_slow_down(share=0.5, seed=7))

    # 12 requests of 5 keys, half of all DeleteObjects answered 503 SlowDown.
    result = delete_files(
        PyArrowFileIO(proxied_properties(moto_proxy)),
        uris,
        policy=FAST,
        threads=4,
        batch_size=5,
    )

    assert result.ok, result.failed
    assert fault.fired >= 3 and result.retries == fault.fired
    assert stored_keys(direct_s3, bucket) == set()


@pytest.mark.moto
def test_s3_lost_delete_response_is_retried_safely(moto_proxy, direct_s3, bucket):
    uris = put_objects(direct_s3, bucket, ["t/a.parquet", "t/b.parquet"])
    fault = moto_proxy.add(Fault("drop_response", method="POST", path=DELETE_OBJECTS, count=2))

    result = delete_files(PyArrowFileIO(proxied_properties(moto_proxy)), uris, policy=FAST)

    assert result.ok and result.attempts == 3 and fault.fired == 2
    assert stored_keys(direct_s3, bucket) == set()


@pytest.mark.moto
def test_s3_partially_failed_batch_sends_only_the_throttled_keys_again(
    moto_proxy, direct_s3, bucket
):
    uris = put_objects(direct_s3, bucket, [f"t/{i}.parquet" for i in range(10)])
    bodies: list[bytes] = []

    def throttle_three_keys(request: HttpRequest, body: bytes) -> bytes:
        bodies.append(request.body)
        keys = re.findall(rb"<Key>([^<]+)</Key>", request.body)[:3]
        errors = b"".join(
            b"<Error><Key>" + k + b"</Key><Code>SlowDown</Code><Message>slow</Message></Error>"
            for k in keys
        )
        return b'<?xml version="1.0"?><DeleteResult>' + errors + b"</DeleteResult>"

    moto_proxy.add(Fault("rewrite", method="POST", path=DELETE_OBJECTS, count=1,
                         rewrite=throttle_three_keys))  # fmt: skip

    result = delete_files(PyArrowFileIO(proxied_properties(moto_proxy)), uris, policy=FAST)

    assert result.ok and result.attempts == 2
    resent = moto_proxy.log.entries[-1]
    assert resent[0] == "POST" and resent[2] == "forwarded"
    assert len(re.findall(rb"<Key>", bodies[0])) == 10
    assert stored_keys(direct_s3, bucket) == set()


@pytest.mark.moto
def test_s3_lasting_failures_are_listed_with_their_reason_and_the_rest_is_deleted(
    moto_proxy, direct_s3, bucket
):
    doomed = put_objects(direct_s3, bucket, ["t/x/1.parquet", "t/x/2.parquet"])
    fine = put_objects(direct_s3, bucket, ["t/y/1.parquet"])
    # Every request carrying a t/x/ key is throttled, for good.
    moto_proxy.add(_slow_down())
    policy = RetryPolicy(num_retries=2, min_wait_ms=5, max_wait_ms=10)
    io = PyArrowFileIO(proxied_properties(moto_proxy))

    failed = delete_files(io, doomed, policy=policy)
    moto_proxy.clear()
    deleted = delete_files(io, fine, policy=policy)

    assert sorted(failed.failed) == sorted(doomed) and failed.deleted_count == 0
    assert all("SlowDown" in reason and "after 3 attempts" in reason
               for reason in failed.failed.values())  # fmt: skip
    assert deleted.ok
    assert stored_keys(direct_s3, bucket) == {"t/x/1.parquet", "t/x/2.parquet"}


@pytest.mark.moto
def test_s3_behind_a_remote_signer_is_deleted_file_by_file_with_retries(
    moto_proxy, direct_s3, bucket
):
    uris = put_objects(direct_s3, bucket, ["t/1.parquet", "t/2.parquet", "t/3.parquet"])
    # pyarrow's FileIO ignores the signer settings; the batch client would not sign correctly.
    properties = {**proxied_properties(moto_proxy), "s3.signer": "S3V4RestSigner"}
    fault = moto_proxy.add(Fault("status", method="DELETE", count=2))

    result = delete_files(PyArrowFileIO(properties), uris, policy=FAST)

    assert result.ok and fault.fired == 2
    assert moto_proxy.log.count(method="POST") == 0  # no DeleteObjects
    # (pyarrow leaves a directory marker "t/" where it deleted the last file)
    assert {k for k in stored_keys(direct_s3, bucket) if not k.endswith("/")} == set()
