"""Lost commit answers on a PostgreSQL SQL catalog: a raw TCP `FaultProxy` in front of the real
PostgreSQL drops the server's answer to the ``COMMIT`` that makes a table commit (after the
server applied it) or resets the connection before the ``COMMIT`` reaches the server (which then
rolls back). ≥ 20 trials of each per operation: expiry, schema change, tag creation, rollback.

After every trial the table, read through a catalog that bypasses the proxy, has exactly the rows
the test expects, every referenced file exists, and the operation's own effect is there (expired
snapshots gone, the column added, the tag present, the branch moved). After all trials of an
operation and one vacuum, no unreferenced file is left. Expiry deletes files only after its
commit is known to have landed, so no referenced file is ever missing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations import ExpireSnapshotsOperation, VacuumOperation
from phlo_lakehouse.operations.ref_ops import CreateRefOperation
from phlo_lakehouse.operations.schema_ops import EvolveSchemaOperation, SchemaChanges
from phlo_lakehouse.operations.snapshot_ops import RollbackOperation
from phlo_lakehouse.testing.fault_proxy import FaultProxy
from phlo_lakehouse.testing.faults import Fault
from phlo_lakehouse_tests.operations.conftest import referenced_by, rows_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TRIALS = 20
KINDS = ("drop_response", "drop_request")


class SqlBench:
    """A table on PostgreSQL reached through the proxy (``faulty``) and directly (``direct``)."""

    def __init__(self, proxy: FaultProxy, url: str, proxied_url: str, root: Path) -> None:
        name = f"c{uuid.uuid4().hex[:10]}"
        warehouse = f"file://{root}/warehouse"
        self.proxy = proxy
        self.direct = IcebergLakehouse(CatalogSettings(name=name, uri=url, warehouse=warehouse))
        self.faulty = IcebergLakehouse(
            CatalogSettings(name=name, uri=proxied_url, warehouse=warehouse)
        )
        self.name = "lost.events"
        self.expected = rows_of(seed_demo_table(self.direct, self.name, commits=2))
        self.next_id = 1000
        self.outcomes: Counter[str] = Counter()

    def append(self) -> None:
        rows = demo_rows(self.next_id, 5)
        self.next_id += 5
        self.direct.get_table(self.name).table.append(rows)
        self.expected = sorted(self.expected + rows.to_pylist(), key=lambda r: r["event_id"])

    def table(self):
        return self.direct.get_table(self.name)

    def trials(
        self,
        prepare: Callable[[], object],
        run: Callable[[], object],
        check: Callable[[], None],
    ) -> None:
        self.outcomes = Counter()  # one operation's trials at a time
        for kind in KINDS:
            for _ in range(TRIALS):
                prepare()
                # The next COMMIT statement on the wire: the one that makes the table commit.
                outcome = self.proxy.trial(Fault(kind, path="COMMIT", count=1), run)
                self.outcomes[f"{kind}:{outcome}"] += 1
                assert rows_of(self.table()) == self.expected
                check()
                _referenced_exist(self.table().table)
        # With the proxy the server always finished first: every lost answer is settled.
        assert self.outcomes == {f"{k}:committed": TRIALS for k in KINDS}, self.outcomes
        vacuumed = self.direct.run(VacuumOperation(older_than="0s", force=True), self.name)
        assert _unreferenced(self.table().table) == set()
        # Only metadata files of commits that never landed (a SQL catalog writes the file first)
        assert all("/metadata/" in p for p in vacuumed.details.get("orphan_files", []))


def _referenced(table) -> set[str]:
    """Every file the metadata references (PyIceberg's public API)."""
    found = {table.metadata_location, *(e.metadata_file for e in table.metadata.metadata_log)}
    return found | referenced_by(table.metadata, table.io)


def _stored(table) -> set[str]:
    root = Path(urlsplit(table.location()).path)
    return {f"file://{p}" for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _referenced_exist(table) -> None:
    missing = _referenced(table) - _stored(table)
    assert not missing, f"referenced but missing: {sorted(missing)[:3]}"


def _unreferenced(table) -> set[str]:
    return _stored(table) - _referenced(table)


@pytest.fixture
def sql_bench(postgres_url: str, tmp_path: Path) -> Iterator[SqlBench]:
    url = urlsplit(postgres_url)
    with FaultProxy(url.hostname or "127.0.0.1", url.port or 5432, mode="tcp") as proxy:
        proxied = postgres_url.replace(f"{url.hostname}:{url.port}", f"127.0.0.1:{proxy.port}")
        yield SqlBench(proxy, postgres_url, proxied, tmp_path)


def test_expiry_survives_lost_commit_answers_and_deletes_only_after_its_commit(sql_bench):
    b = sql_bench
    heads: list[int] = []

    def expire() -> None:
        heads.append(b.table().snapshot_id)
        b.faulty.run(ExpireSnapshotsOperation(older_than="0s", retain_last=1), b.name)

    def check() -> None:
        table = b.table().table
        assert [s.snapshot_id for s in table.metadata.snapshots] == [heads[-1]]

    b.trials(prepare=b.append, run=expire, check=check)


def test_schema_changes_survive_lost_commit_answers(sql_bench):
    b = sql_bench
    added: list[str] = []

    def evolve() -> None:
        added.append(f"c{len(added)}")
        b.faulty.run(EvolveSchemaOperation(SchemaChanges.of(add_columns={added[-1]: "string"})),
                     b.name)  # fmt: skip
        b.expected = [{**row, added[-1]: None} for row in b.expected]

    def check() -> None:
        names = [f.name for f in b.table().table.schema().fields]
        assert names.count(added[-1]) == 1 and names[-1] == added[-1]

    b.trials(prepare=lambda: None, run=evolve, check=check)
    assert len(b.table().table.schema().fields) == 5 + 2 * TRIALS


def test_tags_and_rollbacks_survive_lost_commit_answers(sql_bench):
    b = sql_bench
    tags: list[str] = []

    def tag() -> None:
        tags.append(f"v{len(tags)}")
        b.faulty.run(CreateRefOperation(tags[-1], kind="tag"), b.name)

    def tagged() -> None:
        refs = b.table().table.metadata.refs
        assert refs[tags[-1]].snapshot_id == b.table().snapshot_id

    b.trials(prepare=lambda: None, run=tag, check=tagged)

    kept: list[tuple[int, list[dict]]] = []

    def append_then_remember() -> None:
        kept.append((b.table().snapshot_id, list(b.expected)))
        b.append()

    def rollback() -> None:
        b.faulty.run(RollbackOperation(snapshot_id=kept[-1][0]), b.name)
        b.expected = kept[-1][1]

    def rolled_back() -> None:
        assert b.table().snapshot_id == kept[-1][0]

    b.trials(prepare=append_then_remember, run=rollback, check=rolled_back)
