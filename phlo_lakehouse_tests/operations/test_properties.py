"""Property-based tests: random histories of writes and maintenance on a real embedded (SQLite)
lakehouse, checked after every step against an in-memory model (ref → set of event ids).

Writes: append, delete and overwrite with random predicates, on random branches; branches and tags
created from (and removed at) random refs; one partition-spec change. Maintenance, through the
executor: optimize (binpack, sort or zorder, small targets so several files come out, sometimes
partial progress), expire (random ``retain_last``, ``now`` in the future so snapshots really
expire), vacuum (``force=True``, ``now`` in the future, sometimes with planted orphan files) and
rewrite_manifests.

After every step: each ref reads exactly its model rows; every file the metadata reaches exists in
storage; the refs of the table are the model's; each ref head's summary counts its rows.
``PHLO_PROPERTY_EXAMPLES`` raises the number of histories for a longer bug hunt.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from pyiceberg.expressions import EqualTo, GreaterThanOrEqual, In, LessThan

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations import (
    ExpireSnapshotsOperation,
    OperationExecutor,
    OptimizeOperation,
    RewriteManifestsOperation,
)
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.operations.vacuum import VacuumOperation
from phlo_lakehouse.storage.listing import list_storage, normalize_location
from phlo_lakehouse_tests.operations.conftest import rows_of

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TABLE = "prop.events"
BRANCHES = ("b1", "b2")
TAGS = ("t1", "t2")
FUTURE = timedelta(days=30)
MAX_ID = 2_000
#: Every row the histories can write: a row is a function of its event id.
ROWS: list[dict[str, Any]] = demo_rows(0, MAX_ID).to_pylist()


def _predicates(data: st.DataObject, next_id: int):
    """A random row filter as a PyIceberg expression and the same filter over model rows."""
    kind = data.draw(st.sampled_from(["lt", "in", "kind", "user"]), label="predicate")
    if kind == "lt":
        bound = data.draw(st.integers(0, next_id), label="event_id <")
        return LessThan("event_id", bound), lambda r: r["event_id"] < bound
    if kind == "in":
        ids = data.draw(
            st.sets(st.integers(0, max(0, next_id - 1)), min_size=1, max_size=4), label="ids"
        )
        return In("event_id", ids), lambda r: r["event_id"] in ids
    if kind == "kind":
        value = data.draw(st.sampled_from(["click", "view", "buy"]), label="kind")
        return EqualTo("kind", value), lambda r: r["kind"] == value
    user = data.draw(st.integers(0, 96), label="user_id >=")
    return GreaterThanOrEqual("user_id", user), lambda r: r["user_id"] >= user


class LakehouseHistory(RuleBasedStateMachine):
    """One random history on one fresh embedded lakehouse."""

    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(prefix="phlo-prop-"))
        self.lakehouse = IcebergLakehouse(CatalogSettings.embedded(self.home))
        self.executor = OperationExecutor(self.lakehouse)
        self.model: dict[str, set[int]] = {}
        self.tags: set[str] = set()
        self.next_id = 0
        self.spec_evolved = False

    def teardown(self) -> None:
        if self.lakehouse._catalogs:  # noqa: SLF001 - only to close the SQLite engine
            self.lakehouse.catalog().engine.dispose()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def branches(self) -> list[str]:
        return sorted(r for r in self.model if r not in self.tags)

    def _table(self):
        return self.lakehouse.get_table(TABLE).table

    def _head(self, ref: str) -> int:
        return self._table().metadata.refs[ref].snapshot_id

    def _new_ids(self, count: int) -> list[int]:
        ids = list(range(self.next_id, self.next_id + count))
        self.next_id += count
        assert self.next_id <= MAX_ID
        return ids

    def _storage(self) -> dict[tuple[str, str, str], str]:
        table = self._table()
        return {
            normalize_location(f.path): f.path for f in list_storage(table.io, table.location())
        }

    # -- writes -----------------------------------------------------------------------------------

    @initialize(commits=st.integers(1, 4), rows=st.integers(1, 6), partitioned=st.booleans())
    def create_table(self, commits: int, rows: int, partitioned: bool) -> None:
        seed_demo_table(
            self.lakehouse, TABLE, commits=commits, rows_per_commit=rows, partitioned=partitioned
        )
        self.model["main"] = set(self._new_ids(commits * rows))

    @rule(data=st.data(), rows=st.integers(1, 6))
    def append(self, data: st.DataObject, rows: int) -> None:
        ref = data.draw(st.sampled_from(self.branches), label="branch")
        ids = self._new_ids(rows)
        self._table().append(demo_rows(ids[0], rows), branch=ref)
        self.model[ref] |= set(ids)

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        ref = data.draw(st.sampled_from(self.branches), label="branch")
        expression, matches = _predicates(data, self.next_id)
        self._table().delete(expression, branch=ref)
        self.model[ref] = {i for i in self.model[ref] if not matches(ROWS[i])}

    @rule(data=st.data(), rows=st.integers(1, 4))
    def overwrite(self, data: st.DataObject, rows: int) -> None:
        ref = data.draw(st.sampled_from(self.branches), label="branch")
        expression, matches = _predicates(data, self.next_id)
        ids = self._new_ids(rows)
        self._table().overwrite(demo_rows(ids[0], rows), overwrite_filter=expression, branch=ref)
        self.model[ref] = {i for i in self.model[ref] if not matches(ROWS[i])} | set(ids)

    @precondition(lambda self: not self.spec_evolved)
    @rule(bucket=st.booleans())
    def evolve_partitioning(self, bucket: bool) -> None:
        """A second partition spec: later writes use it, earlier files keep theirs."""
        from pyiceberg.transforms import BucketTransform, DayTransform

        table = self._table()
        with table.update_spec() as update:
            if bucket:
                update.add_field("user_id", BucketTransform(2), "user_bucket")
            elif table.spec().is_unpartitioned():
                update.add_field("event_time", DayTransform(), "event_day")
            else:
                update.remove_field("event_day")
        self.spec_evolved = True

    @precondition(lambda self: any(r not in self.model for r in BRANCHES + TAGS))
    @rule(data=st.data())
    def create_ref(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([r for r in BRANCHES + TAGS if r not in self.model]))
        manage = self._table().manage_snapshots()
        if name in TAGS:
            source = data.draw(st.sampled_from(self.branches), label="from branch")
            manage.create_tag(self._head(source), name).commit()
            self.tags.add(name)
        else:
            source = data.draw(st.sampled_from(sorted(self.model)), label="from ref")
            manage.create_branch(self._head(source), name).commit()
        self.model[name] = set(self.model[source])

    @precondition(lambda self: len(self.model) > 1)
    @rule(data=st.data())
    def remove_ref(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(set(self.model) - {"main"})))
        manage = self._table().manage_snapshots()
        if name in self.tags:
            manage.remove_tag(name).commit()
            self.tags.discard(name)
        else:
            manage.remove_branch(name).commit()
        del self.model[name]

    # -- maintenance ------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        strategy=st.sampled_from(["binpack", "sort", "zorder"]),
        target_size=st.sampled_from(["3KB", "5KB", "8KB", "1MB"]),
        min_input_files=st.integers(1, 3),
        partial_progress=st.booleans(),
        rewrite_all=st.booleans(),
    )
    def optimize(
        self,
        data: st.DataObject,
        strategy: str,
        target_size: str,
        min_input_files: int,
        partial_progress: bool,
        rewrite_all: bool,
    ) -> None:
        ref = data.draw(st.sampled_from(self.branches), label="branch")
        columns: dict[str, Any] = {}
        if strategy == "sort":
            columns["sort_by"] = data.draw(
                st.sampled_from([["user_id desc"], ["kind", "amount desc nulls last"]])
            )
        elif strategy == "zorder":
            columns["zorder_by"] = data.draw(
                st.sampled_from([["user_id", "amount"], ["event_time", "kind"]])
            )
        op = OptimizeOperation(
            strategy=strategy,
            target_file_size=target_size,
            min_input_files=min_input_files,
            partial_progress=partial_progress,
            rewrite_all=rewrite_all,
            **columns,
        )
        result = self.executor.run(op, TABLE, ref)
        assert result.committed == (result.figures["file_groups"] > 0), result.summary()
        event(f"optimize committed={result.committed}")
        if result.committed:
            event(f"optimize wrote {min(result.figures['expected_output_files'], 3)}+ files")

    @rule(retain_last=st.integers(1, 3), older_than=st.sampled_from([None, "1d", "10d"]))
    def expire(self, retain_last: int, older_than: str | None) -> None:
        op = ExpireSnapshotsOperation(
            older_than=older_than, retain_last=retain_last, now=datetime.now(UTC) + FUTURE
        )
        result = self.executor.run(op, TABLE)
        event(f"expire removed snapshots={result.figures['snapshots_to_expire'] > 0}")
        event(f"expire deleted data files={result.figures['data_files_to_delete'] > 0}")

    @rule(plant=st.integers(0, 2))
    def vacuum(self, plant: int) -> None:
        location = self._table().location().removeprefix("file://")
        planted = []
        for i in range(plant):
            folder = Path(location) / ("data" if i % 2 == 0 else "metadata")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"planted-{uuid.uuid4()}.parquet"
            path.write_bytes(b"not referenced by any metadata")
            planted.append(path)
        op = VacuumOperation(older_than="3d", force=True, now=datetime.now(UTC) + FUTURE)
        result = self.executor.run(op, TABLE)
        assert not [p for p in planted if p.exists()], result.summary()
        event(f"vacuum deleted files={result.figures['orphan_files'] > 0}")
        reach = {normalize_location(p) for p in reachable_files(self._table()).all()}
        left = [path for key, path in self._storage().items() if key not in reach]
        assert not left, f"vacuum left unreachable files: {left[:5]}; {result.summary()}"

    @rule(
        data=st.data(),
        rewrite_all=st.booleans(),
        manifest_size=st.sampled_from([None, "1KB", "4KB"]),
    )
    def rewrite_manifests(
        self, data: st.DataObject, rewrite_all: bool, manifest_size: str | None
    ) -> None:
        ref = data.draw(st.sampled_from(self.branches), label="branch")
        op = RewriteManifestsOperation(target_manifest_size=manifest_size, rewrite_all=rewrite_all)
        result = self.executor.run(op, TABLE, ref)
        event(f"rewrite_manifests committed={result.committed}")

    # -- what must hold after every step ----------------------------------------------------------

    @invariant()
    def every_ref_reads_its_model_rows(self) -> None:
        if not self.model:
            return
        assert set(self._table().metadata.refs) == set(self.model)
        for ref, ids in self.model.items():
            actual = rows_of(self.lakehouse.get_table(TABLE, ref))
            expected = [ROWS[i] for i in sorted(ids)]
            assert actual == expected, (
                f"ref {ref}: missing {sorted(ids - {r['event_id'] for r in actual})[:10]}, "
                f"unexpected {sorted({r['event_id'] for r in actual} - ids)[:10]}, "
                f"{len(actual) - len({r['event_id'] for r in actual})} duplicates"
            )

    @invariant()
    def every_reachable_file_exists(self) -> None:
        if not self.model:
            return
        stored = self._storage()
        missing = sorted(
            p for p in reachable_files(self._table()).all() if normalize_location(p) not in stored
        )
        assert not missing, f"{len(missing)} reachable files are gone, e.g. {missing[:3]}"

    @invariant()
    def every_ref_head_summary_counts_its_rows(self) -> None:
        if not self.model:
            return
        for ref, ids in self.model.items():
            handle = self.lakehouse.get_table(TABLE, ref)
            summary = handle.snapshot.summary
            live = live_files(handle.table, handle.snapshot).data
            assert summary["total-records"] == str(len(ids)), (ref, summary)
            assert summary["total-data-files"] == str(len(live)), (ref, summary)


LakehouseHistory.TestCase.settings = settings(
    max_examples=int(os.environ.get("PHLO_PROPERTY_EXAMPLES", "20")),
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_histories_keep_every_ref_equal_to_the_model = LakehouseHistory.TestCase
