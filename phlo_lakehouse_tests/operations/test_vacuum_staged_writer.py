"""Vacuum while a writer in another process has written files it has not committed yet.

The writer (``_workers/stager.py``, its own process and catalog connection) opens a PyIceberg
transaction and appends: its data files, manifest and manifest list are in storage while no
metadata references them. Vacuum then runs on a real clock — no future ``now`` — once with the
default guard (3 days) and once with a short forced guard that is older than orphans planted
before the writer started but younger than the writer's files. The staged files survive both,
the writer commits afterwards and its rows read. On S3 (moto) the ages come from the objects'
real LastModified times.

Storage is listed with os.walk / boto3 here, not with the code under test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.vacuum import VacuumOperation
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, moto_client
from phlo_lakehouse_tests.operations._workers.appender import PROTOCOL_PREFIX
from phlo_lakehouse_tests.operations.conftest import referenced_by

TABLE = "raw.events"
SEEDED = 40
STAGED_IDS = list(range(10_000, 10_012))
#: The short guard: older than the planted orphans (ORPHAN_AGE_S), younger than the staged files.
SHORT_GUARD_S = 6
ORPHAN_AGE_S = 9
WORKER_TIMEOUT_S = 60


class Stager:
    """The other writer's process: staged on start, commits on `commit`."""

    def __init__(self, settings: CatalogSettings, log: Path) -> None:
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "phlo_lakehouse_tests.operations._workers.stager",
                "--settings",
                json.dumps({**dataclasses.asdict(settings), "properties": {**settings.properties}}),
                "--table",
                TABLE,
                "--ids",
                *map(str, STAGED_IDS),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self._message()["staged"]

    def _message(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            line = self.process.stdout.readline() if ready else ""
            if line.startswith(PROTOCOL_PREFIX):
                return json.loads(line[len(PROTOCOL_PREFIX) :])
            if ready and not line:
                break  # the worker exited
        raise AssertionError(
            f"the staging writer did not answer (exit {self.process.poll()}; see {self._log.name})"
        )

    def commit(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("commit\n")
        self.process.stdin.flush()
        return self._message()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.moto)])
def settings(request: pytest.FixtureRequest, tmp_path: Path, unique_name: str) -> CatalogSettings:
    """A SQLite catalog file both processes open; warehouse on local disk or on moto S3."""
    if request.param == "local":
        return CatalogSettings.embedded(tmp_path / "lakehouse")
    endpoint = request.getfixturevalue("s3_endpoint")
    return CatalogSettings(
        type="sql",
        uri=f"sqlite:///{tmp_path}/catalog.db",
        warehouse=f"s3://warehouse/{unique_name}",
        properties={**S3_TEST_PROPERTIES, "s3.endpoint": endpoint},
    )


def _stored(settings: CatalogSettings, location: str) -> set[str]:
    """Every object/file under ``location``, listed without phlo_lakehouse."""
    parsed = urlparse(location)
    if parsed.scheme == "s3":
        s3 = moto_client(settings.properties["s3.endpoint"])
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=parsed.netloc, Prefix=parsed.path.lstrip("/") + "/"
        )
        return {
            f"s3://{parsed.netloc}/{o['Key']}"
            for page in pages
            for o in page.get("Contents", [])
            if not o["Key"].endswith("/")  # pyarrow's empty directory markers
        }
    return {
        f"file://{os.path.join(root, name)}"
        for root, _, names in os.walk(parsed.path)
        for name in names
    }


def _vacuum(lakehouse: IcebergLakehouse, op: VacuumOperation, *, dry_run: bool = False):
    return OperationExecutor(lakehouse).run(op, TABLE, dry_run=dry_run)


def test_files_a_writer_in_another_process_has_not_committed_survive_vacuum_and_its_commit_reads(
    settings: CatalogSettings, tmp_path: Path
):
    lakehouse = IcebergLakehouse(settings)
    handle = seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=SEEDED // 2)
    location = handle.table.location()
    orphans = {f"{location}/data/orphan-{i}.parquet" for i in range(3)}
    for uri in orphans:
        with handle.table.io.new_output(uri).create(overwrite=True) as out:
            out.write(b"left by a crashed writer")
    time.sleep(ORPHAN_AGE_S)  # real time: the orphans' mtime / LastModified age
    before = _stored(settings, location)
    stager = Stager(settings, tmp_path / "stager.log")
    try:
        staged = _stored(settings, location) - before
        assert any(p.endswith(".parquet") for p in staged), staged
        assert any(p.endswith(".avro") for p in staged), "manifests are staged too"
        # Without the age guard the staged files would be orphans: nothing references them.
        unguarded = _vacuum(lakehouse, VacuumOperation(now=_far_future()), dry_run=True)
        assert staged <= set(unguarded.details["orphan_files"])

        default = _vacuum(lakehouse, VacuumOperation())
        assert default.figures["orphan_files"] == 0, default.details["orphan_files"]
        assert _stored(settings, location) == before | staged

        short = _vacuum(lakehouse, VacuumOperation(older_than=f"{SHORT_GUARD_S}s", force=True))
        assert set(short.details["orphan_files"]) == orphans
        assert _stored(settings, location) == (before - orphans) | staged

        answer = stager.commit()
    finally:
        stager.close()

    assert answer["committed"], answer
    fresh = IcebergLakehouse(settings).get_table(TABLE)
    assert fresh.table.current_snapshot().snapshot_id == answer["snapshot_id"]
    ids = sorted(fresh.to_arrow()["event_id"].to_pylist())
    assert ids == sorted([*range(SEEDED), *STAGED_IDS])
    referenced = referenced_by(fresh.table.metadata, fresh.table.io)
    assert staged & referenced, "the commit references the staged files"
    assert referenced <= _stored(settings, location)


def _far_future():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(days=30)
