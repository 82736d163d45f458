"""Lost commit answers on the real Nessie server: every mutating operation, ≥ 20 trials with the
commit's response dropped after Nessie applied it and ≥ 20 with the request dropped before it
reached Nessie (a `FaultProxy` in front of Nessie; the server writes to moto).

After every trial the table, read straight from Nessie (not through the proxy), has exactly the
rows the test expects and every file its metadata references exists in the bucket (checked with
boto3 against moto). After each operation's trials, no file under the table's location is left
that no commit of the table's Nessie history references.

Schema changes are tried on the PostgreSQL catalog (``test_lost_sql_commits.py``): Nessie 0.99
answers every schema commit from PyIceberg 0.12 with HTTP 500 ("400 Bad Request" inside), which
the commit-outcome rule reports as `CommitStateUnknown` after its checks.

The oracle reads metadata with PyIceberg's public API and lists storage with boto3: it shares no
code with the operations.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations import OptimizeOperation, RewriteManifestsOperation
from phlo_lakehouse.operations.ref_ops import CreateRefOperation
from phlo_lakehouse.operations.snapshot_ops import RollbackOperation
from phlo_lakehouse.testing.fault_proxy import FaultProxy
from phlo_lakehouse.testing.faults import Fault
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, moto_client
from phlo_lakehouse_tests.operations.conftest import referenced_by, rows_of

pytestmark = [pytest.mark.nessie, pytest.mark.slow]

TRIALS = 20
KINDS = ("drop_response", "drop_request")


@dataclass
class Bench:
    """A table on Nessie reached through the proxy (``faulty``) and directly (``direct``)."""

    proxy: FaultProxy
    faulty: IcebergLakehouse
    direct: IcebergLakehouse
    s3: object
    name: str
    ref: str
    next_id: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    #: the rows the table must hold, kept by the test itself (the oracle)
    expected: list[dict] = field(default_factory=list)

    def append(self, files: int = 1, days: int = 1, count: int = 6) -> None:
        """Add ``files`` Parquet files per day (``count`` rows each) in one snapshot."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        table = self.direct.get_table(self.name, self.ref).table
        paths = []
        for _ in range(files):
            rows = demo_rows(self.next_id, count * days, days=days)
            self.next_id += count * days
            self.expected = sorted(self.expected + rows.to_pylist(), key=_event_id)
            day = pc.floor_temporal(rows["event_time"], unit="day")
            for value in pc.unique(day).to_pylist():
                path = f"{table.location()}/data/added-{uuid.uuid4().hex}.parquet"
                with table.io.new_output(path).create() as stream:
                    pq.write_table(rows.filter(pc.equal(day, value)), stream)
                paths.append(path)
        table.add_files(paths)

    def rows(self) -> list[dict]:
        return rows_of(self.direct.get_table(self.name, self.ref))

    def run(self, operation: object) -> object:
        return self.faulty.run(operation, self.name, self.ref)


@pytest.fixture
def bench(nessie_uri: str, s3_endpoint: str) -> Iterator[Callable[..., Bench]]:
    nessie = urlsplit(nessie_uri)
    proxies: list[FaultProxy] = []

    def make(partitioned: bool = False) -> Bench:
        proxy = FaultProxy(nessie.hostname or "127.0.0.1", nessie.port or 19120).start()
        proxies.append(proxy)
        props = {**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint}
        warehouse = os.environ.get("PHLO_TEST_NESSIE_WAREHOUSE", "warehouse")
        direct = IcebergLakehouse(
            CatalogSettings(type="nessie", uri=nessie_uri, warehouse=warehouse, properties=props)
        )
        faulty = IcebergLakehouse(
            CatalogSettings(type="nessie", uri=proxy.url, warehouse=warehouse, properties=props)
        )
        unique = f"lost{uuid.uuid4().hex[:8]}"
        name = f"{unique}.events"
        seeded = seed_demo_table(
            direct, name, commits=1, rows_per_commit=6, partitioned=partitioned
        )
        # A branch of its own: rollbacks move it, and main is shared by every test on the server.
        direct.nessie.create_branch(unique, "main")
        branches.append((direct, unique))
        bench = Bench(proxy, faulty, direct, moto_client(s3_endpoint), name, unique, next_id=6)
        bench.expected = rows_of(seeded)
        return bench

    branches: list[tuple[IcebergLakehouse, str]] = []
    yield make
    for proxy in proxies:
        proxy.stop()
    for lakehouse, branch in branches:
        for ref in lakehouse.nessie.list():
            if ref.name == branch or ref.name.startswith(f"{branch}-"):
                lakehouse.nessie.delete(ref.name)


def _event_id(row: dict) -> int:
    return row["event_id"]


def _commit_fault(bench: Bench, kind: str) -> Fault:
    """The next commit request of the table (Iceberg REST POST) meets ``kind``."""
    table = bench.name.split(".")[1]
    return Fault(kind, method="POST", path=rf"/tables/{table}$", count=1)


def _nessie_ref_fault(kind: str) -> Fault:
    """The next reference change (Nessie API v1: create, assign) meets ``kind``."""
    return Fault(kind, method=r"(POST|PUT)", path=r"/api/v1/trees/", count=1)


def _referenced_exist(bench: Bench) -> None:
    """Every file the table's current metadata references is in the bucket."""
    table = bench.direct.get_table(bench.name, bench.ref).table
    wanted = {table.metadata_location} | referenced_by(table.metadata, table.io)
    stored = _stored(bench, table.location())
    missing = wanted - stored
    assert not missing, f"referenced but missing: {sorted(missing)[:5]}"


def _stored(bench: Bench, location: str) -> set[str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    pages = bench.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return {f"s3://{bucket}/{o['Key']}" for page in pages for o in page.get("Contents", [])}


def _no_garbage(bench: Bench) -> None:
    """No file under the table's location is unreferenced by every commit of its history."""
    from pyiceberg.serializers import FromInputFile

    table = bench.direct.get_table(bench.name, bench.ref).table
    referenced: set[str] = set()
    for state in bench.direct.nessie.table_history(bench.name, bench.ref):
        metadata = FromInputFile.table_metadata(table.io.new_input(state.metadata_location))
        referenced.add(state.metadata_location)
        referenced |= referenced_by(metadata, table.io, deleted_entries=True)
    garbage = _stored(bench, table.location()) - referenced
    assert not garbage, f"{len(garbage)} unreferenced files left, e.g. {sorted(garbage)[:3]}"


def _trials(
    bench: Bench,
    prepare: Callable[[], object],
    run: Callable[[], object],
    fault_for: Callable[[str], Fault],
    expect: Callable[[list[dict]], list[dict]] = lambda rows: rows,
    *,
    writes_files: bool = True,
) -> None:
    for kind in KINDS:
        for _ in range(TRIALS):
            prepare()
            outcome = bench.proxy.trial(fault_for(kind), run)
            bench.outcomes[f"{kind}:{outcome}"] += 1
            bench.expected = expect(bench.expected)
            assert bench.rows() == bench.expected
            _referenced_exist(bench)
    # The proxy lets the server finish first: every lost answer is settled by the checks.
    assert bench.outcomes == {f"{k}:committed": TRIALS for k in KINDS}, bench.outcomes
    if writes_files:
        _no_garbage(bench)


def test_optimize_survives_lost_commit_answers(bench):
    b = bench()
    _trials(
        b,
        prepare=lambda: b.append(files=2),
        run=lambda: b.run(OptimizeOperation(min_input_files=2)),
        fault_for=lambda kind: _commit_fault(b, kind),
    )


def test_optimize_partial_progress_survives_lost_commit_answers(bench):
    b = bench(partitioned=True)
    operation = OptimizeOperation(min_input_files=2, partial_progress=True)
    _trials(
        b,
        prepare=lambda: b.append(files=2, days=2),  # 2 files in each of 2 days: 2 groups
        run=lambda: b.run(operation),
        fault_for=lambda kind: _commit_fault(b, kind),
    )


def test_rewrite_manifests_survives_lost_commit_answers(bench):
    b = bench()
    _trials(
        b,
        prepare=lambda: b.append(),
        run=lambda: b.run(RewriteManifestsOperation(rewrite_all=True)),
        fault_for=lambda kind: _commit_fault(b, kind),
    )


def test_nessie_tags_and_rollbacks_survive_lost_answers(bench):
    b = bench()
    tags: list[str] = []

    def tag() -> None:
        tags.append(f"{b.ref}-{len(tags)}")
        b.run(CreateRefOperation(tags[-1], kind="tag"))

    _trials(b, prepare=lambda: None, run=tag,
            fault_for=_nessie_ref_fault)  # fmt: skip
    head = b.direct.nessie.get(b.ref).hash
    tagged = {r.name: r.hash for r in b.direct.nessie.list() if r.name.startswith(f"{b.ref}-")}
    assert tagged == {name: head for name in tags} and len(tags) == 2 * TRIALS

    b.outcomes.clear()
    kept: list[list[dict]] = []

    def append_then_remember() -> None:
        kept.append(list(b.expected))
        b.append()

    def rollback() -> None:
        history = b.direct.nessie.table_history(b.name, b.ref, limit=2)
        b.run(RollbackOperation(snapshot_id=history[1].snapshot_id))

    # A rollback writes no file (the appends it undoes are Nessie GC's to collect).
    _trials(
        b,
        prepare=append_then_remember,
        run=rollback,
        fault_for=_nessie_ref_fault,
        expect=lambda _: kept[-1],
        writes_files=False,
    )
