"""Compaction racing another process, on a PostgreSQL SQL catalog (SQLite's file lock serialises
writers, so only a real database shows what happens when commits interleave).

Each trial seeds a small partitioned table, tells the appender worker (a separate Python process,
see ``_workers/appender.py``) to append small batches to random partitions after a random delay
with random pauses — or to delete random rows — and runs `OptimizeOperation` through the executor
in this process at the same time. The worker reports exactly which of its commits landed, so every
trial can be checked row by row: final rows == initial rows ∪ appended − deleted, no duplicates.

Trials are drawn from ``random.Random(seed)``; a failing trial prints its seed. ``RACE_SEED``
changes the base seed.
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse, LakehouseError
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import OperationExecutor, OptimizeOperation
from phlo_lakehouse_tests.operations._workers import rows_for
from phlo_lakehouse_tests.operations._workers.appender import PROTOCOL_PREFIX

pytestmark = pytest.mark.postgres

APPEND_TRIALS = 50
DELETE_TRIALS = 15
BASE_SEED = int(os.environ.get("RACE_SEED", "20261125"))
WORKER_TIMEOUT = 60.0
DAYS = 4
NAMESPACE = "race"


class Appender:
    """The other writer: one worker process fed one command per trial."""

    def __init__(self, settings: CatalogSettings, log: Path) -> None:
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "phlo_lakehouse_tests.operations._workers.appender",
                "--name",
                settings.name,
                "--uri",
                str(settings.uri),
                "--warehouse",
                str(settings.warehouse),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._expect("ready")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(PROTOCOL_PREFIX):
                self._lines.put(json.loads(line[len(PROTOCOL_PREFIX) :]))

    def _expect(self, key: str) -> Any:
        try:
            message = self._lines.get(timeout=WORKER_TIMEOUT)
        except queue.Empty:
            raise AssertionError(
                f"appender sent no {key!r} within {WORKER_TIMEOUT}s "
                f"(exit code {self.process.poll()}; stderr in {self._log.name})"
            ) from None
        assert key in message, message
        return message[key]

    def start(self, command: dict[str, Any]) -> None:
        """Send a command; returns once the worker has it (its delay starts then)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        self._expect("ack")

    def results(self) -> list[dict[str, Any]]:
        """The outcome of each step of the last command, once the worker has run them all."""
        return self._expect("results")

    def close(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"quit": True}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self._log.close()


@dataclass
class Trial:
    """One race: what ran, what the other process committed, what the table holds afterwards."""

    seed: int
    table: str
    operation: str
    committed: bool = False
    error: str | None = None
    attempts: int = 0
    replanned: bool = False
    plan_snapshot_id: int | None = None
    overlapping_commits: int = 0
    seconds: float = 0.0
    initial: list[int] = field(default_factory=list)
    expected: list[int] = field(default_factory=list)
    actual: list[int] = field(default_factory=list)
    rows_match: bool = False
    steps: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        lost = sorted(set(self.expected) - set(self.actual))
        extra = sorted(set(self.actual) - set(self.expected))
        dups = len(self.actual) - len(set(self.actual))
        return (
            f"seed={self.seed} {self.operation}: committed={self.committed} error={self.error} "
            f"lost={lost[:10]} unexpected={extra[:10]} duplicates={dups} "
            f"other-process steps={[(s['kind'], s['committed']) for s in self.steps]}"
        )


@pytest.fixture(scope="module")
def postgres_settings(postgres_url: str, tmp_path_factory: pytest.TempPathFactory):
    """A PostgreSQL SQL catalog of its own (unique catalog name), warehouse in a temp dir."""
    warehouse = tmp_path_factory.mktemp("race-warehouse")
    settings = CatalogSettings(
        type="sql",
        name="race_" + uuid.uuid4().hex[:10],
        uri=postgres_url,
        warehouse=f"file://{warehouse}",
    )
    yield settings
    catalog = IcebergLakehouse(settings).catalog()
    if catalog.namespace_exists(NAMESPACE):
        for ident in catalog.list_tables(NAMESPACE):
            catalog.drop_table(ident)
        catalog.drop_namespace(NAMESPACE)
    catalog.engine.dispose()


@pytest.fixture(scope="module")
def appender(postgres_settings: CatalogSettings, tmp_path_factory) -> Iterator[Appender]:
    worker = Appender(postgres_settings, tmp_path_factory.mktemp("appender") / "stderr.log")
    yield worker
    worker.close()


def _optimize(rng: random.Random) -> tuple[OptimizeOperation, str]:
    strategy = rng.choice(["binpack", "binpack", "sort", "zorder"])
    partial = rng.random() < 0.3
    target = rng.choice([None, "6KB"])
    extra: dict[str, Any] = {
        "sort": {"sort_by": ["user_id desc"]},
        "zorder": {"zorder_by": ["user_id", "amount"]},
    }.get(strategy, {})
    op = OptimizeOperation(
        strategy=strategy,
        min_input_files=2,
        target_file_size=target,
        partial_progress=partial,
        **extra,
    )
    return op, f"optimize({strategy}, target={target}, partial_progress={partial})"


def _append_steps(rng: random.Random, first_id: int) -> list[dict[str, Any]]:
    """1–8 appends of 1–4 rows, each row in a random day partition, with pauses of 0–40 ms."""
    steps, counter = [], 0
    for _ in range(rng.randint(1, 8)):
        ids = []
        for _ in range(rng.randint(1, 4)):
            ids.append(first_id + DAYS * counter + rng.randrange(DAYS))  # day = id % DAYS
            counter += 1
        steps.append({"kind": "append", "ids": ids, "sleep": rng.uniform(0, 0.02)})
    return steps


def _delete_steps(rng: random.Random, initial: list[int], first_id: int) -> list[dict[str, Any]]:
    """1–3 deletes of random existing rows, sometimes with an append in between."""
    steps = []
    for _ in range(rng.randint(1, 3)):
        steps.append(
            {
                "kind": "delete",
                "ids": sorted(rng.sample(initial, rng.randint(1, 12))),
                "sleep": rng.uniform(0, 0.05),
            }
        )
        if rng.random() < 0.4:
            steps += _append_steps(rng, first_id + 1000 * len(steps))[:1]
    return steps


def _lineage(table: Any) -> list[Any]:
    """main's snapshots, oldest first."""
    from pyiceberg.table.snapshots import ancestors_of

    return list(ancestors_of(table.current_snapshot(), table.metadata))[::-1]


def _overlapping_commits(table: Any, plan_snapshot_id: int, theirs: set[int]) -> int:
    """Commits of the other process (``theirs``: the snapshot ids it reported) that landed
    after the snapshot the compaction planned on and before its last commit, counted from the
    table's metadata alone: sequence numbers on main's lineage. The compaction's commits are the
    lineage snapshots after its plan snapshot that are not the other process's (there are only
    two writers); commits that landed before planning do not count."""
    lineage = _lineage(table)
    by_id = {s.snapshot_id: s for s in lineage}
    assert plan_snapshot_id in by_id, f"the plan snapshot {plan_snapshot_id} is not on main"
    planned = by_id[plan_snapshot_id].sequence_number
    after = [s for s in lineage if s.sequence_number > planned]
    ours = [s.sequence_number for s in after if s.snapshot_id not in theirs]
    if not ours:
        return 0
    return sum(1 for s in after if s.snapshot_id in theirs and s.sequence_number < max(ours))


def _event_ids(lakehouse: IcebergLakehouse, name: str) -> list[int]:
    return sorted(lakehouse.get_table(name).to_arrow()["event_id"].to_pylist())


def _rows_match(lakehouse: IcebergLakehouse, name: str, ids: list[int]) -> bool:
    """Every column of every row equals the row written for its id (not just the ids)."""
    import pyarrow as pa

    actual = lakehouse.get_table(name).to_arrow().sort_by("event_id")
    expected = rows_for(ids)
    plain = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in actual.schema]
    )
    return actual.cast(plain).to_pylist() == expected.cast(plain).to_pylist()


def _run_trial(
    settings: CatalogSettings, appender: Appender, seed: int, kind: str, index: int
) -> Trial:
    rng = random.Random(seed)
    lakehouse = IcebergLakehouse(settings)
    name = f"{NAMESPACE}.{kind}_{index}"
    commits, per_commit = rng.randint(6, 10), rng.randint(8, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        handle = seed_demo_table(
            lakehouse, name, commits=commits, rows_per_commit=per_commit, replace=True
        )
    initial = list(range(commits * per_commit))
    first_id = 1_000_000
    steps = (
        _append_steps(rng, first_id) if kind == "append" else _delete_steps(rng, initial, first_id)
    )
    op, described = _optimize(rng)
    trial = Trial(seed=seed, table=name, operation=described, initial=initial)
    appender.start({"table": name, "delay": rng.uniform(0, 0.03), "steps": steps})
    started = time.perf_counter()
    try:
        result = OperationExecutor(lakehouse).run(op, name)
    except LakehouseError as e:  # Conflict after every attempt, or a failure: both reported
        trial.error = f"{type(e).__name__}: {e.message}"
    else:
        trial.committed = result.committed
        trial.attempts = result.attempts
        trial.replanned = result.snapshot_id_before != handle.snapshot_id
        trial.plan_snapshot_id = result.snapshot_id_before
    trial.seconds = time.perf_counter() - started
    trial.steps = appender.results()
    unknown = [s for s in trial.steps if s.get("unknown")]
    assert not unknown, f"seed={seed}: the other process could not tell if it committed: {unknown}"
    appended = {
        i for s in trial.steps if s["committed"] and s["kind"] == "append" for i in s["ids"]
    }
    deleted = {i for s in trial.steps if s["committed"] and s["kind"] == "delete" for i in s["ids"]}
    trial.expected = sorted((set(initial) - deleted) | appended)
    trial.actual = _event_ids(lakehouse, name)
    trial.rows_match = trial.actual == trial.expected and _rows_match(
        lakehouse, name, trial.expected
    )
    if trial.committed and trial.plan_snapshot_id is not None:
        theirs = {s["snapshot_id"] for s in trial.steps if s.get("snapshot_id") is not None}
        table = IcebergLakehouse(settings).get_table(name).table
        trial.overlapping_commits = _overlapping_commits(table, trial.plan_snapshot_id, theirs)
    lakehouse.catalog().engine.dispose()
    return trial


@pytest.fixture(scope="module")
def append_races(postgres_settings: CatalogSettings, appender: Appender) -> list[Trial]:
    """APPEND_TRIALS compactions, each racing 1–8 appends from the other process."""
    return [
        _run_trial(postgres_settings, appender, BASE_SEED + i, "append", i)
        for i in range(APPEND_TRIALS)
    ]


@pytest.fixture(scope="module")
def delete_races(postgres_settings: CatalogSettings, appender: Appender) -> list[Trial]:
    """DELETE_TRIALS compactions, each racing 1–3 deletes (and a few appends)."""
    return [
        _run_trial(postgres_settings, appender, BASE_SEED + 10_000 + i, "delete", i)
        for i in range(DELETE_TRIALS)
    ]


def _summary(trials: list[Trial], kind: str) -> str:
    committed = sum(t.committed for t in trials)
    raced = sum(t.overlapping_commits for t in trials)
    raced_trials = sum(t.overlapping_commits > 0 for t in trials)
    retried = sum(t.attempts > 1 for t in trials)
    replanned = sum(t.replanned for t in trials)
    return (
        f"compaction committed in {committed}/{len(trials)} trials with {raced} concurrent "
        f"{kind} (other-process commits between a compaction's plan snapshot and its last "
        f"commit, by sequence number, in {raced_trials} trials; {retried} compactions needed "
        "more than one commit attempt, "
        f"{replanned} re-planned)"
    )


def test_no_row_is_lost_or_duplicated_when_another_process_appends_during_compaction(
    append_races,
):
    bad = [t.describe() for t in append_races if not t.rows_match]
    assert not bad, f"{len(bad)}/{len(append_races)} trials lost or duplicated rows:\n" + "\n".join(
        bad
    )


def test_compaction_commits_in_every_trial_where_the_other_process_only_appended(append_races):
    summary = _summary(append_races, "appends")
    print(f"\n[append races] {summary}")
    failed = [t.describe() for t in append_races if not t.committed]
    assert not failed, summary + "\n" + "\n".join(failed)
    assert all(s["committed"] for t in append_races for s in t.steps), (
        "an append of the other process failed: " + summary
    )


def test_appends_really_landed_while_compactions_were_in_flight(append_races):
    raced = sum(t.overlapping_commits > 0 for t in append_races)
    retried = sum(t.attempts > 1 for t in append_races)
    print(f"\n[append races] overlap per trial: {[t.overlapping_commits for t in append_races]}")
    assert raced >= APPEND_TRIALS // 2 and retried >= 5, (
        f"only {raced} trials had an append commit between the compaction's plan snapshot and "
        f"its commit and {retried} lost a "
        "commit race: the race window is too small to test anything; "
        + _summary(append_races, "appends")
    )


def test_no_row_is_lost_or_duplicated_when_another_process_deletes_during_compaction(
    delete_races,
):
    print(f"\n[delete races] {_summary(delete_races, 'deletes/appends')}")
    deletes = [s for t in delete_races for s in t.steps if s["kind"] == "delete"]
    rejected = [s for s in deletes if not s["committed"]]
    print(
        f"[delete races] {len(deletes) - len(rejected)}/{len(deletes)} deletes of the other "
        f"process committed; the rest were rejected by PyIceberg's validation, e.g. "
        f"{rejected[0]['error'] if rejected else None}"
    )
    bad = [t.describe() for t in delete_races if not t.rows_match]
    assert not bad, (
        f"{len(bad)}/{len(delete_races)} trials do not hold initial − deleted ∪ appended rows; "
        + _summary(delete_races, "deletes/appends")
        + "\n"
        + "\n".join(bad)
    )


def test_deletes_really_raced_the_compactions(delete_races):
    """Either the compaction re-planned around a delete or a delete lost to the compaction."""
    replanned = sum(t.replanned for t in delete_races)
    rejected = sum(1 for t in delete_races for s in t.steps if not s["committed"])
    assert replanned + rejected >= 3, "the deletes never overlapped a compaction: " + _summary(
        delete_races, "deletes/appends"
    )


def test_a_tag_another_writer_creates_while_expire_commits_survives_with_its_rows(
    postgres_settings: CatalogSettings, monkeypatch: pytest.MonkeyPatch
):
    import phlo_lakehouse.operations.expire as expire_module
    from phlo_lakehouse.operations import ExpireSnapshotsOperation

    lakehouse = IcebergLakehouse(postgres_settings)
    name = f"{NAMESPACE}.expire_tag"
    handle = seed_demo_table(lakehouse, name, commits=4, rows_per_commit=20, replace=True)
    oldest = min(handle.table.snapshots(), key=lambda s: s.sequence_number).snapshot_id
    tagged_rows = handle.table.scan(snapshot_id=oldest).to_arrow().num_rows
    OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2), name)
    commit_updates = expire_module.commit_updates
    tagged: list[bool] = []

    def another_writer_tags_the_oldest_snapshot_first(table, updates, requirements):
        # The window between expire's re-read of the refs and its commit, made deterministic:
        # another writer (its own catalog connection) commits a tag there, once.
        if not tagged:
            other = IcebergLakehouse(postgres_settings).get_table(name).table
            other.manage_snapshots().create_tag(oldest, "audit").commit()
            tagged.append(True)
        return commit_updates(table, updates, requirements)

    monkeypatch.setattr(
        expire_module, "commit_updates", another_writer_tags_the_oldest_snapshot_first
    )
    OperationExecutor(lakehouse).run(
        ExpireSnapshotsOperation(retain_last=1, now=datetime.now(UTC) + timedelta(days=30)), name
    )

    fresh = IcebergLakehouse(postgres_settings)
    assert "audit" in fresh.get_table(name).table.metadata.refs
    assert fresh.get_table(name, ref="audit").to_arrow().num_rows == tagged_rows


def _unreachable_files(lakehouse: IcebergLakehouse, name: str) -> set[str]:
    from phlo_lakehouse.operations.reachable import reachable_files
    from phlo_lakehouse.storage.listing import list_storage

    table = IcebergLakehouse(lakehouse.settings).get_table(name).table
    reachable = reachable_files(table).all()
    return {f.path for f in list_storage(table.io, table.location())} - reachable


@pytest.mark.parametrize(
    "partial_progress",
    [False, True],
)
def test_a_compaction_rejected_by_a_concurrent_delete_leaves_no_files_behind(
    postgres_settings: CatalogSettings, partial_progress: bool
):
    from phlo_lakehouse import Conflict

    lakehouse = IcebergLakehouse(postgres_settings)
    name = f"{NAMESPACE}.rejected_{partial_progress}"
    handle = seed_demo_table(lakehouse, name, commits=6, rows_per_commit=40, replace=True)
    op = OptimizeOperation(partial_progress=partial_progress, max_concurrent_groups=1)
    plan = op.plan(handle)
    # Another writer rewrites a file of the last group (day 4) after the plan was made.
    IcebergLakehouse(postgres_settings).get_table(name).table.delete("event_id == 3")
    before = _unreachable_files(lakehouse, name)

    # Deterministic: one group per day, committed one by one in job order with partial
    # progress; only day 3's group (it holds event 3) read a file the delete replaced. (The
    # CI failure "DID NOT RAISE Conflict" for [True] came from revisions c16cc69..819d5b7, where
    # this case still expected a Conflict although max_failed_commits already tolerated it.)
    if partial_progress:  # the refused batch is dropped, the others commit (Spark's rule)
        result = op.execute(handle, plan)
        assert result.details["failed_commits"] == 1 and result.details["commits"] == 3
        table = IcebergLakehouse(postgres_settings).get_table(name).table
        per_day = Counter(str(t.file.partition) for t in table.scan().plan_files())
        assert sorted(per_day.values())[:3] == [1, 1, 1] and max(per_day.values()) > 1, per_day
    else:
        with pytest.raises(Conflict):
            op.execute(handle, plan)

    assert _unreachable_files(lakehouse, name) == before
    assert _event_ids(IcebergLakehouse(postgres_settings), name) == [
        i for i in range(6 * 40) if i != 3
    ]
