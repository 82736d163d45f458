"""Lost commit answers on a real Iceberg REST catalog (Iceberg 1.10's REST server over SQLite,
data on moto; scripts/services/iceberg_rest.sh): a `FaultProxy` in front of the catalog drops the
answer to the table's commit request (``POST …/tables/events``) after the server applied it, or
drops the request before it reaches the server. ≥ 20 trials of each per operation: optimize
(partial progress off and on), manifest rewrite, expiry with file deletion, schema changes, tags
and rollbacks (the same operations on Nessie and PostgreSQL: test_lost_commits.py /
test_lost_sql_commits.py). One table per operation, reused across its trials.

After every trial the table, read through a catalog that bypasses the proxy, has exactly the rows
the test expects, the operation's effect is there, and every file its metadata references is in
the bucket (boto3 against moto). After an operation's trials no file under the table's location
is left that no metadata file of its history references. The oracle reads metadata with
PyIceberg's public API: it shares no code with the operations.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations import (
    ExpireSnapshotsOperation,
    OptimizeOperation,
    RewriteManifestsOperation,
)
from phlo_lakehouse.operations.ref_ops import CreateRefOperation
from phlo_lakehouse.operations.schema_ops import EvolveSchemaOperation, SchemaChanges
from phlo_lakehouse.operations.snapshot_ops import RollbackOperation
from phlo_lakehouse.testing.fault_proxy import FaultProxy
from phlo_lakehouse.testing.faults import Fault
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, moto_client, require_env
from phlo_lakehouse_tests.operations.conftest import referenced_by, rows_of

pytestmark = [pytest.mark.iceberg_rest, pytest.mark.moto, pytest.mark.slow]

TRIALS = 20
KINDS = ("drop_response", "drop_request")
#: The server keeps this many earlier metadata files in the log (the oracle walks the log).
METADATA_LOG = {"write.metadata.previous-versions-max": "1000"}


class RestBench:
    """A table on the REST catalog reached through the proxy (``faulty``) and directly."""

    def __init__(self, proxy: FaultProxy, catalog_uri: str, s3_endpoint: str, partitioned: bool):
        props = {**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint}
        path = urlsplit(catalog_uri).path
        self.proxy = proxy
        self.direct = IcebergLakehouse(CatalogSettings(type="rest", uri=catalog_uri,
                                                       properties=props))  # fmt: skip
        self.faulty = IcebergLakehouse(CatalogSettings(type="rest", uri=proxy.url + path,
                                                       properties=props))  # fmt: skip
        self.namespace = f"lost{uuid.uuid4().hex[:8]}"
        self.name = f"{self.namespace}.events"
        seeded = seed_demo_table(self.direct, self.name, commits=1, rows_per_commit=6,
                                 partitioned=partitioned, properties=METADATA_LOG)  # fmt: skip
        self.expected = rows_of(seeded)
        self.s3 = moto_client(s3_endpoint)
        self.next_id = 6
        self.outcomes: Counter[str] = Counter()

    def append(self, days: int = 1) -> None:
        """One snapshot with one file per day."""
        rows = demo_rows(self.next_id, 6 * days, days=days)
        self.next_id += 6 * days
        self.direct.get_table(self.name).table.append(rows)
        self.expected = sorted(self.expected + rows.to_pylist(), key=lambda r: r["event_id"])

    def table(self):
        return self.direct.get_table(self.name)

    def run(self, operation: object) -> object:
        return self.faulty.run(operation, self.name)

    def trials(
        self,
        prepare: Callable[[], object],
        run: Callable[[], object],
        check: Callable[[], None] = lambda: None,
    ) -> None:
        self.outcomes = Counter()
        for kind in KINDS:
            for _ in range(TRIALS):
                prepare()
                fault = Fault(kind, method="POST", path=r"/tables/events$", count=1)
                self.outcomes[f"{kind}:{self.proxy.trial(fault, run)}"] += 1
                assert rows_of(self.table()) == self.expected
                check()
                missing = self._head_references() - self._stored()
                assert not missing, f"referenced but missing: {sorted(missing)[:3]}"
        # The proxy lets the server finish first: every lost answer is settled by the checks.
        assert self.outcomes == {f"{k}:committed": TRIALS for k in KINDS}, self.outcomes
        table = self.table().table
        missing = {table.metadata_location} | referenced_by(table.metadata, table.io)
        missing -= self._stored()
        assert not missing, f"referenced but missing: {sorted(missing)[:3]}"
        garbage = self._stored() - self._history_references()
        assert not garbage, f"{len(garbage)} unreferenced files left, e.g. {sorted(garbage)[:3]}"

    def _head_references(self) -> set[str]:
        """Files the metadata and each ref's head snapshot reference (every snapshot of the
        whole history is checked once, after the trials: reading them all per trial is slow)."""
        table = self.table().table
        found = {table.metadata_location}
        for snapshot_id in {ref.snapshot_id for ref in table.metadata.refs.values()}:
            snapshot = table.snapshot_by_id(snapshot_id)
            found.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(table.io):
                found.add(manifest.manifest_path)
                entries = manifest.fetch_manifest_entry(table.io, discard_deleted=True)
                found.update(e.data_file.file_path for e in entries)
        return found

    def _history_references(self) -> set[str]:
        """Files any metadata file of the table's log references (deleted entries too; snapshots
        that expiry removed and whose manifest lists it deleted are skipped)."""
        from pyiceberg.serializers import FromInputFile

        table = self.table().table
        found: set[str] = set()
        cache: dict[str, set[str]] = {}
        for location in [table.metadata_location,
                         *(e.metadata_file for e in table.metadata.metadata_log)]:  # fmt: skip
            metadata = FromInputFile.table_metadata(table.io.new_input(location))
            found |= {location} | referenced_by(metadata, table.io, deleted_entries=True,
                                                cache=cache, expired_ok=True)  # fmt: skip
        return found

    def _stored(self) -> set[str]:
        bucket, _, prefix = self.table().table.location().removeprefix("s3://").partition("/")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                  Prefix=prefix + "/")  # fmt: skip
        return {
            f"s3://{bucket}/{o['Key']}"
            for page in pages
            for o in page.get("Contents", [])
            if not o["Key"].endswith("/")
        }

    def drop(self) -> None:
        catalog = self.direct.catalog()
        catalog.drop_table((self.namespace, "events"))
        catalog.drop_namespace((self.namespace,))


@pytest.fixture
def bench(s3_endpoint: str) -> Iterator[Callable[..., RestBench]]:
    catalog_uri = require_env("PHLO_TEST_ICEBERG_REST_CATALOG", "iceberg_rest")
    server = urlsplit(catalog_uri)
    benches: list[RestBench] = []
    with FaultProxy(server.hostname or "127.0.0.1", server.port or 80) as proxy:

        def make(partitioned: bool = False) -> RestBench:
            benches.append(RestBench(proxy, catalog_uri, s3_endpoint, partitioned))
            return benches[-1]

        yield make
    for b in benches:
        b.drop()


def test_rewrite_manifests_survives_lost_commit_answers_on_rest(bench):
    b = bench()
    b.trials(prepare=b.append, run=lambda: b.run(RewriteManifestsOperation(rewrite_all=True)))


def test_schema_changes_survive_lost_commit_answers_on_rest(bench):
    b = bench()
    added: list[str] = []

    def evolve() -> None:
        added.append(f"c{len(added)}")
        b.run(EvolveSchemaOperation(SchemaChanges.of(add_columns={added[-1]: "string"})))
        b.expected = [{**row, added[-1]: None} for row in b.expected]

    def added_once() -> None:
        names = [f.name for f in b.table().table.schema().fields]
        assert names.count(added[-1]) == 1 and names[-1] == added[-1]

    b.trials(prepare=lambda: None, run=evolve, check=added_once)


def test_optimize_survives_lost_commit_answers_on_rest(bench):
    b = bench()

    def two_files() -> None:
        b.append()
        b.append()

    def compacted() -> None:
        assert len(list(b.table().table.scan().plan_files())) == 1

    b.trials(prepare=two_files, run=lambda: b.run(OptimizeOperation(min_input_files=2)),
             check=compacted)  # fmt: skip


def test_optimize_partial_progress_survives_lost_commit_answers_on_rest(bench):
    b = bench(partitioned=True)
    operation = OptimizeOperation(min_input_files=2, partial_progress=True)

    def two_files_in_each_of_two_days() -> None:  # two file groups: two commits, the first faulted
        b.append(days=2)
        b.append(days=2)

    def one_file_per_partition() -> None:
        paths = [t.file.file_path for t in b.table().table.scan().plan_files()]
        partitions = [p.rsplit("/", 1)[0] for p in paths]
        assert len(paths) == len(set(partitions)), paths

    b.trials(prepare=two_files_in_each_of_two_days, run=lambda: b.run(operation),
             check=one_file_per_partition)  # fmt: skip


def test_expiry_survives_lost_commit_answers_and_deletes_only_after_its_commit_on_rest(bench):
    b = bench()
    heads: list[int] = []

    def expire() -> None:
        heads.append(b.table().snapshot_id)
        b.run(ExpireSnapshotsOperation(older_than="0s", retain_last=1))

    def only_the_head_is_left() -> None:
        assert [s.snapshot_id for s in b.table().table.metadata.snapshots] == [heads[-1]]

    b.trials(prepare=b.append, run=expire, check=only_the_head_is_left)


def test_tags_and_rollbacks_survive_lost_commit_answers_on_rest(bench):
    b = bench()
    tags: list[str] = []

    def tag() -> None:
        tags.append(f"v{len(tags)}")
        b.run(CreateRefOperation(tags[-1], kind="tag"))

    def tagged() -> None:
        refs = b.table().table.metadata.refs
        assert refs[tags[-1]].snapshot_id == b.table().snapshot_id

    b.trials(prepare=lambda: None, run=tag, check=tagged)
    assert set(b.table().table.metadata.refs) == {"main", *tags} and len(tags) == 2 * TRIALS

    kept: list[tuple[int, list[dict]]] = []

    def append_then_remember() -> None:
        kept.append((b.table().snapshot_id, list(b.expected)))
        b.append()

    def rollback() -> None:
        b.run(RollbackOperation(snapshot_id=kept[-1][0]))
        b.expected = kept[-1][1]

    def rolled_back() -> None:
        assert b.table().snapshot_id == kept[-1][0]

    b.trials(prepare=append_then_remember, run=rollback, check=rolled_back)
