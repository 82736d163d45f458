"""Expiry and vacuum of an S3 table (SQLite catalog, moto) whose object store answers 503 to a
share of its List and DeleteObjects requests, through the fault-injection proxy.

The oracle reads moto directly (boto3, never through the proxy) and derives what must go from
the table's metadata with PyIceberg's public API: expiry deletes exactly the files the metadata
referenced before and no longer references; vacuum deletes exactly the planted orphans. A
permanent failure is shown through the CLI: it prints the undeleted files and exits 1, and
nothing else is lost.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import (
    ExpireSnapshotsOperation,
    OperationExecutor,
    OptimizeOperation,
    VacuumOperation,
)
from phlo_lakehouse.testing.faults import S3_SLOW_DOWN, Fault
from phlo_lakehouse_tests.cli.conftest import cli_env, script
from phlo_lakehouse_tests.operations.conftest import referenced_by, rows_of
from phlo_lakehouse_tests.storage.conftest import proxied_properties, stored_keys

pytestmark = pytest.mark.moto

TABLE = "raw.events"
DELETE_OBJECTS = r"\?delete"
LIST_OBJECTS = r"list-type=2"


def _unavailable(path: str, **kwargs) -> Fault:
    return Fault("status", path=path, body=S3_SLOW_DOWN, content_type="application/xml", **kwargs)


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(days=30)


@pytest.fixture
def table_settings(moto_proxy, bucket, tmp_path) -> CatalogSettings:
    """A SQLite catalog whose table lives on moto behind ``moto_proxy``."""
    return CatalogSettings(
        type="sql",
        uri=f"sqlite:///{tmp_path}/catalog.db",
        warehouse=f"s3://{bucket}/wh",
        properties=proxied_properties(moto_proxy),
    )


def _history(settings: CatalogSettings):
    """Four appends and a compaction: expiry has manifest lists, manifests and data to delete."""
    lakehouse = IcebergLakehouse(settings)
    handle = seed_demo_table(lakehouse, TABLE, commits=4, rows_per_commit=30)
    OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2), TABLE)
    return lakehouse, lakehouse.get_table(TABLE), handle


def _uris(bucket: str, keys: set[str]) -> set[str]:
    return {f"s3://{bucket}/{k}" for k in keys if not k.endswith("/")}


def test_expire_and_vacuum_delete_exactly_the_right_files_while_s3_answers_503(
    table_settings, moto_proxy, direct_s3, bucket
):
    lakehouse, table, _ = _history(table_settings)
    rows = rows_of(table)
    referenced_before = referenced_by(table.table.metadata, table.table.io)
    stored_before = _uris(bucket, stored_keys(direct_s3, bucket))
    deletes = moto_proxy.add(_unavailable(DELETE_OBJECTS, method="POST", share=0.5, seed=3))
    lists = moto_proxy.add(_unavailable(LIST_OBJECTS, method="GET", share=0.5, seed=5))

    expired = OperationExecutor(lakehouse).run(
        ExpireSnapshotsOperation(retain_last=1, now=_later()), TABLE
    )

    after = lakehouse.get_table(TABLE)
    expected = referenced_before - referenced_by(after.table.metadata, after.table.io)
    stored = _uris(bucket, stored_keys(direct_s3, bucket))
    assert expected and not expired.details.get("delete_failures")
    assert stored_before - stored == expected
    assert all(p.endswith(".metadata.json") for p in stored - stored_before)
    assert rows_of(after) == rows

    orphans = {f"{after.table.location()}/data/orphan-{i}.parquet" for i in range(5)}
    for uri in orphans:
        direct_s3.put_object(Bucket=bucket, Key=uri.removeprefix(f"s3://{bucket}/"), Body=b"x")
    stored = _uris(bucket, stored_keys(direct_s3, bucket))
    vacuumed = OperationExecutor(lakehouse).run(VacuumOperation(now=_later()), TABLE)

    assert set(vacuumed.details["orphan_files"]) == orphans
    assert not vacuumed.details.get("delete_failures")
    assert stored - _uris(bucket, stored_keys(direct_s3, bucket)) == orphans
    assert deletes.fired >= 1 and lists.fired >= 1, (deletes.fired, lists.fired)
    final = lakehouse.get_table(TABLE)
    assert rows_of(final) == rows
    assert referenced_by(final.table.metadata, final.table.io) <= _uris(
        bucket, stored_keys(direct_s3, bucket)
    )


def test_manifests_are_read_with_one_get_each_and_a_503_get_is_sent_again(
    table_settings, moto_proxy, direct_s3, bucket
):
    lakehouse, table, _ = _history(table_settings)
    referenced_before = referenced_by(table.table.metadata, table.table.io)
    stored_before = _uris(bucket, stored_keys(direct_s3, bucket))
    gets = moto_proxy.add(_unavailable(r"\.avro$", method="GET", share=0.3, seed=11))
    start = len(moto_proxy.log.entries)

    expired = OperationExecutor(lakehouse).run(
        ExpireSnapshotsOperation(retain_last=1, now=_later()), TABLE
    )

    moto_proxy.remove(gets)  # the oracle reads through PyIceberg's own FileIO
    seen = moto_proxy.log.entries[start:]
    after = lakehouse.get_table(TABLE)
    expected = referenced_before - referenced_by(after.table.metadata, after.table.io)
    assert expected and not expired.details.get("delete_failures")
    assert stored_before - _uris(bucket, stored_keys(direct_s3, bucket)) == expected
    assert gets.fired >= 1
    avro = [(method, target) for method, target, _ in seen if target.endswith(".avro")]
    assert avro and not [m for m, _ in avro if m == "HEAD"], avro  # no HEAD before a GET


@pytest.mark.slow  # every batch is retried to the end of STORAGE_RETRY (about 6 s)
def test_the_cli_lists_files_s3_would_not_delete_and_exits_1_and_nothing_else_is_lost(
    table_settings, moto_proxy, direct_s3, bucket
):
    lakehouse, table, _ = _history(table_settings)
    rows = rows_of(table)
    referenced_before = referenced_by(table.table.metadata, table.table.io)
    # Every delete is refused, for good: batches (POST ?delete) and single deletes alike.
    moto_proxy.add(_unavailable(DELETE_OBJECTS, method="POST"))
    moto_proxy.add(_unavailable(".*", method="DELETE"))

    run = subprocess.run(
        [
            script("phlo-lakehouse"),
            "expire",
            TABLE,
            "--older-than",
            "0s",
            "--retain-last",
            "1",
            "--yes",
            "--format",
            "json",
        ],  # fmt: skip
        env=cli_env(lakehouse),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    # --format json: one document, the results and the error (exit 1) in it.
    printed = json.loads(run.stdout)
    assert printed["error"]["type"] == "DeletionIncomplete", printed
    assert "could not be deleted" in printed["error"]["message"], printed
    assert printed["error"]["exit_code"] == 1
    (result,) = printed["results"]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "could not be deleted" in errors[0], run.stderr
    after = lakehouse.get_table(TABLE)
    expected = referenced_before - referenced_by(after.table.metadata, after.table.io)
    assert expected and set(result["details"]["delete_failures"]) == expected
    stored = _uris(bucket, stored_keys(direct_s3, bucket))
    assert expected <= stored, "nothing was deleted"
    assert referenced_by(after.table.metadata, after.table.io) <= stored
    assert rows_of(after) == rows
