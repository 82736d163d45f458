"""Nessie reference changes, write-audit-publish publishing and migrations are operations of the
one executor: each shows up in the audit log and in the metrics, and is denied — changing
nothing — without its permission (``manage_refs``, ``publish``, ``migrate``).

Real components only: the run's Nessie server (``refs merge``, WAP on Nessie; the oracle for a
reference's head is Nessie's own REST API), embedded SQLite catalogs and the PostgreSQL service
(WAP on table refs, migration; the oracle is the catalog database's ``iceberg_tables`` row),
and the Pushgateway for the CLI (read back over HTTP).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
import sqlalchemy as sa

from phlo_lakehouse import AccessDenied, CatalogSettings, IcebergLakehouse
from phlo_lakehouse.access import AccessPolicy, SqlAccessControlProvider, SqlAuditLogger
from phlo_lakehouse.demo import demo_rows, demo_schema, seed_demo_table
from phlo_lakehouse.hooks import HookSettings, build_hooks
from phlo_lakehouse.migration import IcebergCatalogMigration
from phlo_lakehouse.observability import PrometheusObservability
from phlo_lakehouse.operations import MergeReference
from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.wap import WriteAuditPublish
from phlo_lakehouse_tests.conftest import require_env

pytestmark = pytest.mark.timeout(600)


def guarded(lakehouse: IcebergLakehouse, tmp_path, grants):
    """``lakehouse`` with access control, audit and metrics on (the one hook builder), the
    policies ``grants`` lists, and the audit log and metrics to read back."""
    settings = HookSettings(access_control=True, access_db_url=f"sqlite:///{tmp_path}/access.db")
    metrics = PrometheusObservability()
    lakehouse.hooks = build_hooks(settings, lakehouse, metrics=metrics)
    acl = SqlAccessControlProvider(settings.access_url())
    for principal, resource, permissions in grants:
        acl.grant(AccessPolicy.parse(principal, resource, permissions))
    return SqlAuditLogger(settings.access_url()), metrics


def audited(audit, operation):
    return [
        (r.principal, r.resource, r.decision, r.outcome)
        for r in audit.records()
        if r.operation == operation
    ]


def counted(metrics, operation, status):
    labels = {"operation": operation, "status": status}
    return metrics.registry.get_sample_value("phlo_lakehouse_operations_total", labels) or 0


def nessie_head(ref: str) -> str | None:
    """The head of ``ref`` as Nessie's REST API (v2) reports it; None when it does not exist."""
    api = require_env("PHLO_TEST_NESSIE_API_V2", "nessie")
    answer = requests.get(f"{api}/trees/{ref}", timeout=30)
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return answer.json()["reference"]["hash"]


def metadata_pointer(settings: CatalogSettings, namespace: str, name: str) -> str | None:
    """The table's metadata location as the SQL catalog's database holds it (None: no table)."""
    url = sa.engine.make_url(settings.uri)
    if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
        return None  # the catalog was never even opened
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table("iceberg_tables"):
            return None
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = :c "
                    "AND table_namespace = :ns AND table_name = :t"
                ),
                {"c": settings.name, "ns": namespace, "t": name},
            ).first()
    finally:
        engine.dispose()
    return row[0] if row else None


def main_snapshot(settings: CatalogSettings, namespace: str, name: str) -> int | None:
    """The snapshot ``main`` points at, read from the metadata file the catalog points to."""
    pointer = metadata_pointer(settings, namespace, name)
    assert pointer is not None
    with open(urlparse(pointer).path) as f:
        return json.load(f)["refs"]["main"]["snapshot-id"]


def write_on(lakehouse: IcebergLakehouse, ref: str, namespace: str, rows: int = 10) -> None:
    catalog = lakehouse.catalog(ref)
    catalog.create_namespace_if_not_exists(namespace)
    catalog.create_table(f"{namespace}.events", schema=demo_schema()).append(demo_rows(0, rows))


# -- refs merge ----------------------------------------------------------------------------------


@pytest.mark.nessie
def test_refs_merge_is_audited_metered_and_needs_manage_refs_on_the_target(
    nessie_lakehouse, nessie_branch, unique_name, tmp_path
):
    write_on(nessie_lakehouse, nessie_branch, unique_name)
    audit, metrics = guarded(
        nessie_lakehouse,
        tmp_path,
        [
            ("alice", "lakehouse@main", ["manage_refs"]),
            ("bob", f"lakehouse@{nessie_branch}", ["manage_refs"]),  # the source, not main
            ("carol", "lakehouse.*", ["admin"]),  # every table, no reference
        ],
    )
    main_before = nessie_head("main")

    for principal in ("bob", "carol"):
        with pytest.raises(AccessDenied) as denied:
            nessie_lakehouse.run_catalog(MergeReference(nessie_branch), "main", principal=principal)
        assert "lacks permission 'manage_refs' on lakehouse@main" in str(denied.value)
        assert "\n" not in str(denied.value) and "access grant" in denied.value.hint
    assert nessie_head("main") == main_before

    preview = nessie_lakehouse.run_catalog(
        MergeReference(nessie_branch), "main", dry_run=True, principal="alice"
    )
    assert nessie_head("main") == main_before
    merged = nessie_lakehouse.run_catalog(MergeReference(nessie_branch), "main", principal="alice")
    assert preview.figures == merged.figures
    assert merged.figures["tables_merged"] >= 1 and merged.figures["conflicts"] == 0
    assert merged.committed and nessie_head("main") == merged.details["target_hash_after"]
    assert nessie_head("main") != main_before
    assert nessie_head(nessie_branch) is not None  # the source is kept

    assert audited(audit, "ref_merge") == [
        ("user:bob", "lakehouse@main", "deny", "denied"),
        ("user:carol", "lakehouse@main", "deny", "denied"),
        ("user:alice", "lakehouse@main", "allow", "dry_run"),
        ("user:alice", "lakehouse@main", "allow", "committed"),
    ]
    assert audit.verify().valid
    statuses = ("denied", "dry_run", "success")
    assert [counted(metrics, "ref_merge", s) for s in statuses] == [2, 1, 1]


def pushed(gateway: str, job: str, operation: str) -> dict[str, float]:
    """``phlo_lakehouse_operations_total`` of ``operation`` by status, as the Pushgateway
    serves it for ``job``."""
    found = {}
    for line in requests.get(f"{gateway}/metrics", timeout=10).text.splitlines():
        if (
            line.startswith("phlo_lakehouse_operations_total{")
            and f'job="{job}"' in line
            and f'operation="{operation}"' in line
        ):
            status = line.split('status="', 1)[1].split('"', 1)[0]
            found[status] = float(line.rsplit(" ", 1)[1])
    return found


@pytest.mark.nessie
@pytest.mark.pushgateway
class TestRefsMergeCommand(CLITestCase):
    @pytest.fixture(autouse=True)
    def cli_lakehouse(self, nessie_lakehouse, nessie_branch, unique_name, tmp_path):
        self.lakehouse, self.branch = nessie_lakehouse, nessie_branch
        write_on(nessie_lakehouse, nessie_branch, unique_name)
        self.url = f"sqlite:///{tmp_path}/access.db"
        self.gateway = require_env("PHLO_TEST_PUSHGATEWAY_URL", "pushgateway")
        self.job = f"phlo_test_{uuid.uuid4().hex[:8]}"
        SqlAccessControlProvider(self.url).grant(
            AccessPolicy.parse("alice", "lakehouse@main", ["manage_refs"])
        )
        yield nessie_lakehouse
        requests.delete(f"{self.gateway}/metrics/job/{self.job}", timeout=10)

    def merge(self, principal, *flags):
        env = {
            "PHLO_LAKEHOUSE_ACCESS_CONTROL": "true",
            "PHLO_LAKEHOUSE_ACCESS_DB": self.url,
            "PHLO_LAKEHOUSE_PRINCIPAL": principal,
            "PHLO_LAKEHOUSE_PUSHGATEWAY_URL": self.gateway,
            "PHLO_LAKEHOUSE_METRICS_JOB": self.job,
        }
        return self.invoke_command(
            ["refs", "merge", self.branch, "--onto", "main", *flags], env=env
        )

    def test_denied_then_merged_with_audit_and_pushed_metrics(self):
        main_before = nessie_head("main")
        denied = self.merge("bob", "--yes")
        self.assert_exit_code(denied, 1)
        error, hint = denied.stderr.splitlines()
        assert error.startswith("error: user:bob lacks permission 'manage_refs' on lakehouse@main")
        assert hint.startswith("hint: ask an admin: phlo-lakehouse access grant bob")
        assert "Traceback" not in denied.output
        assert nessie_head("main") == main_before
        assert pushed(self.gateway, self.job, "ref_merge") == {"denied": 1.0}

        merged = self.merge("alice", "--yes", "--json")
        self.assert_success(merged)
        document = self.json_output(merged)
        assert document["applied"] is True and document["dry_run"] is False
        assert nessie_head("main") == document["target_hash_after"] != main_before
        # Each CLI process pushes its own registry: the job's group now holds this run's.
        assert pushed(self.gateway, self.job, "ref_merge") == {"success": 1.0}

        audit = SqlAuditLogger(self.url)
        assert audited(audit, "ref_merge") == [
            ("user:bob", "lakehouse@main", "deny", "denied"),
            ("user:alice", "lakehouse@main", "allow", "committed"),
        ]
        assert audit.verify().valid


# -- write-audit-publish -------------------------------------------------------------------------


def test_wap_publish_on_table_refs_needs_publish_on_the_target_branch(tmp_path):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lh"))
    seed_demo_table(lakehouse, "demo.events", commits=2, rows_per_commit=10)
    audit, metrics = guarded(
        lakehouse,
        tmp_path,
        [
            ("bob", "lakehouse.demo.*", ["manage_snapshots"]),
            ("alice", "lakehouse.demo.*", ["manage_snapshots"]),
            ("alice", "lakehouse@main", ["publish"]),
        ],
    )
    before = main_snapshot(lakehouse.settings, "demo", "events")

    run = WriteAuditPublish(lakehouse, ["demo.events"], branch="wap_bob", principal="bob")
    with pytest.raises(AccessDenied) as denied:
        with run:
            run.append("demo.events", demo_rows(100, 5))
    assert "lacks permission 'publish' on lakehouse@main" in str(denied.value)
    assert main_snapshot(lakehouse.settings, "demo", "events") == before
    main = lakehouse.get_table("demo.events")
    assert main.to_arrow().num_rows == 20 and "wap_bob" in main.table.metadata.refs  # kept

    with WriteAuditPublish(
        lakehouse, ["demo.events"], branch="wap_alice", principal="alice"
    ) as run:
        run.append("demo.events", demo_rows(200, 5))
    assert run.result.published and run.result.branch_deleted
    published = run.result.details["snapshot_ids"]["demo.events"]
    assert main_snapshot(lakehouse.settings, "demo", "events") == published != before
    assert lakehouse.get_table("demo.events").to_arrow().num_rows == 25

    assert audited(audit, "wap_publish") == [
        ("user:bob", "lakehouse@main", "deny", "denied"),
        ("user:alice", "lakehouse@main", "allow", "committed"),
    ]
    assert [counted(metrics, "wap_publish", s) for s in ("denied", "success")] == [1, 1]
    assert counted(metrics, "create_ref", "success") == 2  # each run's branch, via the executor


@pytest.mark.nessie
def test_wap_publish_on_nessie_needs_publish_and_its_branch_steps_manage_refs(
    nessie_lakehouse, unique_name, tmp_path
):
    write_on(nessie_lakehouse, "main", unique_name)
    table = f"{unique_name}.events"
    audit, metrics = guarded(
        nessie_lakehouse,
        tmp_path,
        [
            ("bob", f"lakehouse@wap_{unique_name}_*", ["manage_refs"]),
            ("alice", f"lakehouse@wap_{unique_name}_*", ["manage_refs"]),
            ("alice", "lakehouse@main", ["publish"]),
        ],
    )
    bob_branch, alice_branch = f"wap_{unique_name}_bob", f"wap_{unique_name}_alice"
    main_before = nessie_head("main")
    try:
        run = WriteAuditPublish(nessie_lakehouse, branch=bob_branch, principal="bob")
        with pytest.raises(AccessDenied) as denied:
            with run:
                run.append(table, demo_rows(100, 5))
        assert "lacks permission 'publish' on lakehouse@main" in str(denied.value)
        assert nessie_head("main") == main_before
        assert nessie_head(bob_branch) not in (None, main_before)  # kept for inspection

        with WriteAuditPublish(nessie_lakehouse, branch=alice_branch, principal="alice") as run:
            run.append(table, demo_rows(200, 5))
        assert run.result.published and run.result.branch_deleted
        assert nessie_head(alice_branch) is None
        assert nessie_head("main") == run.result.details["merged_hash"] != main_before
        assert nessie_lakehouse.get_table(table, "main").to_arrow().num_rows == 15
    finally:
        if nessie_head(bob_branch) is not None:
            nessie_lakehouse.nessie.delete(bob_branch)

    assert audited(audit, "wap_publish") == [
        ("user:bob", "lakehouse@main", "deny", "denied"),
        ("user:alice", "lakehouse@main", "allow", "committed"),
    ]
    assert audited(audit, "ref_create") == [
        ("user:bob", f"lakehouse@{bob_branch}", "allow", "committed"),
        ("user:alice", f"lakehouse@{alice_branch}", "allow", "committed"),
    ]
    assert audited(audit, "ref_delete") == [
        ("user:alice", f"lakehouse@{alice_branch}", "allow", "committed"),
    ]
    assert [counted(metrics, "wap_publish", s) for s in ("denied", "success")] == [1, 1]


# -- migration -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migration_target(request, tmp_path, unique_name):
    if request.param == "sqlite":
        return IcebergLakehouse(CatalogSettings.embedded(tmp_path / "target"))
    url = request.getfixturevalue("postgres_url")
    return IcebergLakehouse(
        CatalogSettings(
            type="sql", name=unique_name, uri=url, warehouse=f"file://{tmp_path}/pg-warehouse"
        )
    )


def test_migration_is_audited_metered_and_needs_migrate_on_the_target_table(
    migration_target, tmp_path
):
    source = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "source"))
    seed_demo_table(source, "raw.events", commits=2, rows_per_commit=20)
    catalog = migration_target.settings.name
    resource = f"{catalog}.raw.events"
    audit, metrics = guarded(
        migration_target,
        tmp_path,
        [("alice", resource, ["migrate"]), ("bob", f"{catalog}.raw.events", ["write"])],
    )
    source_before = metadata_pointer(source.settings, "raw", "events")

    def migrate(principal):
        migration = IcebergCatalogMigration(
            source, migration_target, drop_source=True, principal=principal
        )
        return migration.run(["raw.*"])

    denied = migrate("bob")
    assert [t.status for t in denied.tables] == ["failed"]
    assert "lacks permission 'migrate'" in denied.tables[0].message
    assert metadata_pointer(migration_target.settings, "raw", "events") is None
    assert metadata_pointer(source.settings, "raw", "events") == source_before

    done = migrate("alice")
    assert [t.status for t in done.tables] == ["migrated"]
    assert metadata_pointer(migration_target.settings, "raw", "events") == source_before
    assert metadata_pointer(source.settings, "raw", "events") is None  # moved, not copied

    assert audited(audit, "migrate") == [
        ("user:bob", resource, "deny", "denied"),
        ("user:alice", resource, "allow", "committed"),
    ]
    assert [counted(metrics, "migrate", s) for s in ("denied", "success")] == [1, 1]
    health = {"table": "raw.events"}
    assert metrics.registry.get_sample_value("phlo_lakehouse_table_rows", health) == 40
