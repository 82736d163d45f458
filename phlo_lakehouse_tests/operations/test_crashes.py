"""A process SIGKILLed in the middle of an operation leaves a readable table with unchanged rows,
and the next vacuum reclaims whatever it left behind.

Each test runs the operation in a worker process (``_workers/crasher.py``) that kills itself at a
deterministic point — while writing files, right before or right after a commit, or midway through
deleting files — on an embedded SQLite catalog. The test process then checks the table with a
fresh catalog connection: same rows on every ref, every file the metadata reaches present, and
after ``VacuumOperation(force=True, now=<future>)`` no unreachable file left in the table location.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phlo_lakehouse import IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import (
    ExpireSnapshotsOperation,
    OperationExecutor,
    OptimizeOperation,
)
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.operations.vacuum import VacuumOperation
from phlo_lakehouse.storage.listing import list_storage, normalize_location
from phlo_lakehouse_tests.operations.conftest import rows_of

TABLE = "raw.events"
FUTURE = timedelta(days=30)
WORKER_TIMEOUT = 120


@pytest.fixture
def events(lakehouse: IcebergLakehouse):
    """24 small files (6 appends × 4 day partitions) and a branch, so there is work to do."""
    handle = seed_demo_table(lakehouse, TABLE, commits=6, rows_per_commit=40)
    handle.table.manage_snapshots().create_branch(handle.snapshot_id, "dev").commit()
    return lakehouse.get_table(TABLE)


@pytest.fixture
def compacted(lakehouse: IcebergLakehouse, events):
    """The events table after a compaction: the 24 small files live on only in old snapshots (and
    on ``dev``), so expiring main's history frees data files too."""
    OperationExecutor(lakehouse).run(OptimizeOperation(), TABLE)
    lakehouse.get_table(TABLE).table.manage_snapshots().remove_branch("dev").commit()
    return lakehouse.get_table(TABLE)


def _future() -> str:
    return (datetime.now(UTC) + FUTURE).isoformat()


def _crash(
    lakehouse: IcebergLakehouse,
    operation: str,
    crash: str,
    *,
    nth: int = 1,
    **options: Any,
) -> None:
    """Run ``operation`` in a worker that SIGKILLs itself at the ``nth`` ``crash`` point."""
    home = lakehouse.settings.uri.removeprefix("sqlite:///").removesuffix("/catalog.db")
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "phlo_lakehouse_tests.operations._workers.crasher",
            "--home",
            home,
            "--table",
            TABLE,
            "--operation",
            operation,
            "--crash",
            crash,
            "--nth",
            str(nth),
            "--options",
            json.dumps(options),
        ],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
    )
    assert process.returncode == -signal.SIGKILL, (
        f"the worker was meant to die at {crash} #{nth} of {operation} but exited with "
        f"{process.returncode}: {process.stdout[-500:]} {process.stderr[-2000:]}"
    )


def _state(lakehouse: IcebergLakehouse) -> dict[str, list[dict]]:
    """Rows of every ref, read through a fresh catalog connection."""
    fresh = IcebergLakehouse(lakehouse.settings)
    refs = fresh.get_table(TABLE).table.metadata.refs
    return {ref: rows_of(fresh.get_table(TABLE, ref)) for ref in sorted(refs)}


def _stored(lakehouse: IcebergLakehouse) -> dict[tuple[str, str, str], str]:
    table = lakehouse.get_table(TABLE).table
    return {normalize_location(f.path): f.path for f in list_storage(table.io, table.location())}


def _reachable(lakehouse: IcebergLakehouse) -> set[tuple[str, str, str]]:
    table = IcebergLakehouse(lakehouse.settings).get_table(TABLE).table
    return {normalize_location(p) for p in reachable_files(table).all()}


def _missing(lakehouse: IcebergLakehouse) -> list[str]:
    """Files the metadata reaches that storage no longer has."""
    stored = _stored(lakehouse)
    return sorted("/".join(key) for key in _reachable(lakehouse) if key not in stored)


def _leftovers(lakehouse: IcebergLakehouse) -> list[str]:
    """Files in the table location that no metadata reaches."""
    reachable = _reachable(lakehouse)
    return sorted(path for key, path in _stored(lakehouse).items() if key not in reachable)


def _assert_intact_and_reclaimed(
    lakehouse: IcebergLakehouse, before: dict[str, list[dict]], *, expect_leftovers: bool
) -> list[str]:
    """Rows unchanged and nothing reachable missing, before and after vacuum; vacuum removes
    every leftover. Returns the leftovers the crash produced."""
    assert _state(lakehouse) == before
    assert not _missing(lakehouse)
    leftovers = _leftovers(lakehouse)
    assert bool(leftovers) == expect_leftovers, leftovers

    result = OperationExecutor(lakehouse).run(
        VacuumOperation(force=True, now=datetime.now(UTC) + FUTURE), TABLE
    )

    assert result.figures["orphan_files"] == len(leftovers)
    assert not _leftovers(lakehouse)
    assert not _missing(lakehouse)
    assert _state(lakehouse) == before
    return leftovers


def _snapshot_id(lakehouse: IcebergLakehouse) -> int | None:
    return IcebergLakehouse(lakehouse.settings).get_table(TABLE).snapshot_id


# -- optimize --------------------------------------------------------------------------------------


def test_optimize_killed_while_writing_files_commits_nothing_and_vacuum_reclaims_them(
    lakehouse, events
):
    before, head = _state(lakehouse), events.snapshot_id

    _crash(lakehouse, "optimize", "finish_file", nth=2, target_file_size="4KB")

    assert _snapshot_id(lakehouse) == head
    leftovers = _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)
    assert all("/data/" in p and p.endswith(".parquet") for p in leftovers)


def test_optimize_killed_right_before_commit_commits_nothing_and_vacuum_reclaims_its_files(
    lakehouse, events
):
    before, head = _state(lakehouse), events.snapshot_id

    _crash(lakehouse, "optimize", "before_commit")

    assert _snapshot_id(lakehouse) == head
    leftovers = _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)
    assert any(p.endswith(".parquet") for p in leftovers)  # the rewritten data files
    assert any(p.endswith(".avro") for p in leftovers)  # its manifests and manifest list


def test_optimize_killed_right_after_commit_keeps_the_compaction_and_every_old_snapshot(
    lakehouse, events
):
    before, head = _state(lakehouse), events.snapshot_id

    _crash(lakehouse, "optimize", "after_commit")

    after = IcebergLakehouse(lakehouse.settings).get_table(TABLE)
    assert after.snapshot.summary.operation.value == "replace"
    assert after.snapshot.parent_snapshot_id == head
    _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=False)
    old = after.table.scan(snapshot_id=head).to_arrow()  # the pre-compaction files still read
    assert old.num_rows == len(before["main"])


def test_optimize_killed_inside_the_commit_before_the_catalog_swap_commits_nothing(
    lakehouse, events
):
    before, head = _state(lakehouse), events.snapshot_id

    _crash(lakehouse, "optimize", "metadata_written")

    assert _snapshot_id(lakehouse) == head
    leftovers = _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)
    assert any(p.endswith(".metadata.json") for p in leftovers)


def test_partial_progress_optimize_killed_between_group_commits_keeps_the_first_group(
    lakehouse, events
):
    before, head = _state(lakehouse), events.snapshot_id

    _crash(
        lakehouse,
        "optimize",
        "before_commit",
        nth=2,
        partial_progress=True,
        max_concurrent_groups=1,
    )

    after = IcebergLakehouse(lakehouse.settings).get_table(TABLE)
    assert after.snapshot.parent_snapshot_id == head  # exactly one group committed
    assert after.snapshot.summary.operation.value == "replace"
    _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)


# -- expire ----------------------------------------------------------------------------------------


def test_expire_killed_after_commit_before_deleting_files_leaves_them_to_vacuum(
    lakehouse, compacted
):
    before = _state(lakehouse)
    snapshots = len(compacted.table.snapshots())

    _crash(lakehouse, "expire", "after_commit", retain_last=1, now=_future())

    assert len(IcebergLakehouse(lakehouse.settings).get_table(TABLE).table.snapshots()) == 1
    assert snapshots > 1
    leftovers = _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)
    assert any("/data/" in p for p in leftovers)  # files only expired snapshots referenced
    assert any(p.endswith(".avro") for p in leftovers)


def test_expire_killed_midway_through_deleting_files_leaves_the_rest_to_vacuum(
    lakehouse, compacted
):
    before = _state(lakehouse)
    plan = OperationExecutor(lakehouse).run(
        ExpireSnapshotsOperation(retain_last=1, now=datetime.now(UTC) + FUTURE),
        TABLE,
        dry_run=True,
    )
    planned = sum(len(p) for p in plan.details["files_to_delete"].values())
    assert planned > 6

    _crash(lakehouse, "expire", "delete", nth=3, retain_last=1, now=_future())

    leftovers = _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)
    assert len(leftovers) < planned


# -- vacuum ----------------------------------------------------------------------------------------


def test_vacuum_killed_midway_through_deleting_leaves_a_readable_table_and_the_rest(
    lakehouse, compacted
):
    before = _state(lakehouse)
    OperationExecutor(lakehouse).run(
        ExpireSnapshotsOperation(retain_last=1, delete_files=False, now=datetime.now(UTC) + FUTURE),
        TABLE,
    )
    orphans = _leftovers(lakehouse)
    assert len(orphans) > 6

    _crash(lakehouse, "vacuum", "delete", nth=3, force=True, now=_future())

    leftovers = _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)
    assert set(leftovers) < set(orphans)


# -- rewrite_manifests -----------------------------------------------------------------------------


def test_rewrite_manifests_killed_right_before_commit_leaves_its_manifests_to_vacuum(
    lakehouse, events
):
    before, head = _state(lakehouse), events.snapshot_id

    _crash(lakehouse, "rewrite_manifests", "before_commit")

    assert _snapshot_id(lakehouse) == head
    leftovers = _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=True)
    assert all(p.endswith(".avro") for p in leftovers)


def test_rewrite_manifests_killed_right_after_commit_keeps_the_new_manifests(lakehouse, events):
    before, head = _state(lakehouse), events.snapshot_id

    _crash(lakehouse, "rewrite_manifests", "after_commit")

    after = IcebergLakehouse(lakehouse.settings).get_table(TABLE)
    assert after.snapshot.parent_snapshot_id == head
    assert len(after.snapshot.manifests(after.table.io)) == 1
    _assert_intact_and_reclaimed(lakehouse, before, expect_leftovers=False)
