"""IcebergCatalogMigration between two real embedded catalogs (SQLite + local warehouses)."""

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import AccessDenied, InvalidInput
from phlo_lakehouse.migration import IcebergCatalogMigration
from phlo_lakehouse.storage.listing import list_storage
from phlo_lakehouse_tests.operations.conftest import rows_of


@pytest.fixture
def source(tmp_path) -> IcebergLakehouse:
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "source"))
    seed_demo_table(lakehouse, "raw.events", commits=3, rows_per_commit=40)
    seed_demo_table(lakehouse, "raw.orders", commits=2, rows_per_commit=10)
    return lakehouse


@pytest.fixture
def target(tmp_path) -> IcebergLakehouse:
    return IcebergLakehouse(CatalogSettings.embedded(tmp_path / "target"))


def _stored(lakehouse: IcebergLakehouse) -> set[str]:
    table = lakehouse.get_table("raw.events").table
    return {f.path for f in list_storage(table.io, table.location())}


def test_refuses_to_register_a_table_in_two_catalogs_before_creating_anything(source, target):
    migration = IcebergCatalogMigration(source, target)
    with pytest.raises(InvalidInput) as error:
        migration.migrate_table("raw.events")
    assert "two catalogs" in error.value.message and "drop_source=True" in error.value.hint
    assert "\n" not in str(error.value)
    assert target.list_namespaces() == []
    summary = migration.run(["raw.*"])
    assert [t.status for t in summary.tables] == ["failed", "failed"]
    assert not summary.ok and "drop_source=True" in summary.summary()


def test_dry_run_shows_the_registration_and_the_drop_and_changes_nothing(source, target):
    summary = IcebergCatalogMigration(source, target, drop_source=True).run(dry_run=True)
    assert [(t.source, t.status, t.action) for t in summary.tables] == [
        ("raw.events", "planned", "register"),
        ("raw.orders", "planned", "register"),
    ]
    events = summary.tables[0]
    location = source.get_table("raw.events").table.metadata_location
    assert events.steps == (
        "create namespace raw",
        f"register raw.events with its current metadata {location} (no file copied)",
        "validate raw.events against raw.events",
        f"drop raw.events from the {source.settings.describe()} (files kept)",
    )
    assert events.figures == {
        "data_files": 12,
        "bytes": events.figures["bytes"],
        "records": 120,
        "partitions": None,
    }
    assert target.list_namespaces() == [] and len(source.list_tables()) == 2


def test_move_registers_the_current_metadata_without_copying_files(source, target):
    before = rows_of(source.get_table("raw.events"))
    location = source.get_table("raw.events").table.metadata_location
    stored = _stored(source)

    summary = IcebergCatalogMigration(source, target, drop_source=True).run()

    assert summary.ok and summary.figures["migrated"] == 2 and summary.figures["records"] == 140
    moved = target.get_table("raw.events")
    assert moved.table.metadata_location == location
    assert rows_of(moved) == before
    assert source.list_tables() == []
    assert _stored(target) == stored  # same files, nothing copied or deleted
    checks = {c["name"]: c["passed"] for c in summary.tables[0].validation["checks"]}
    assert checks == {
        "metadata_location": True,
        "schema": True,
        "files": True,
        "row_count": True,
        "checksums": True,
    }
    again = IcebergCatalogMigration(source, target, drop_source=True).run(["raw.events"])
    assert again.tables[0].status == "skipped" and "already moved" in again.tables[0].message


def test_an_interrupted_move_is_finished_by_the_next_run(source, target):
    location = source.get_table("raw.events").table.metadata_location
    target.catalog().create_namespace("raw")
    target.catalog().register_table(("raw", "events"), location)  # died before dropping

    result = IcebergCatalogMigration(source, target, drop_source=True).migrate_table("raw.events")

    assert (result.status, result.action) == ("migrated", "resume")
    assert [str(t) for t in source.list_tables()] == ["raw.orders"]
    assert target.get_table("raw.events").table.metadata_location == location


def test_one_failing_table_is_reported_and_the_others_migrate(source, target):
    seed_demo_table(target, "raw.orders", commits=1, rows_per_commit=5)  # someone else's table

    summary = IcebergCatalogMigration(source, target, drop_source=True).run()

    by_source = {t.source: t for t in summary.tables}
    assert by_source["raw.events"].status == "migrated"
    failed = by_source["raw.orders"]
    assert failed.status == "failed" and failed.message == "target raw.orders exists"
    assert failed.hint
    assert summary.figures["failed"] == 1 and summary.figures["migrated"] == 1
    assert [str(t) for t in source.list_tables()] == ["raw.orders"]  # the failed one stays


def test_each_migration_runs_through_the_access_and_audit_hooks(source, target, tmp_path):
    from phlo_lakehouse.access import (
        AccessControlHook,
        AccessPolicy,
        SqlAccessControlProvider,
        SqlAuditLogger,
    )

    url = f"sqlite:///{tmp_path}/access.db"
    acl, audit = SqlAccessControlProvider(url), SqlAuditLogger(url)
    acl.grant(AccessPolicy.parse("alice", "lakehouse.raw.events", ["migrate"]))
    hook = AccessControlHook(acl, audit)

    def migration(principal):
        return IcebergCatalogMigration(
            source, target, drop_source=True, hooks=[hook], principal=principal
        )

    with pytest.raises(AccessDenied):
        migration("bob").migrate_table("raw.events")
    assert target.list_namespaces() == []
    assert migration("alice").migrate_table("raw.events").status == "migrated"
    records = [(r.principal, r.operation, r.decision, r.outcome) for r in audit.records()]
    assert records == [
        ("user:bob", "migrate", "deny", "denied"),
        ("user:alice", "migrate", "allow", "committed"),
    ]


def test_summaries_and_results_are_json_ready(source, target):
    import json

    summary = IcebergCatalogMigration(source, target, drop_source=True).run(dry_run=True)
    data = json.loads(summary.to_json())
    assert data["figures"] == {
        "tables": 2,
        "planned": 2,
        "migrated": 0,
        "skipped": 0,
        "failed": 0,
        "data_files": 20,
        "bytes": summary.figures["bytes"],
        "partitions": 0,
        "records": 140,
    }
    assert data["tables"][0]["steps"][1].startswith("register raw.events")
    assert summary.summary().splitlines()[-1] == (
        "iceberg migration (move, dry run): 2 table(s), planned 2"
    )
