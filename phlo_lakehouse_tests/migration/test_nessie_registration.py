"""A table of a SQLite catalog (warehouse on moto's S3) moved into the real Nessie server by
registering its metadata file: Nessie then serves the same rows, and nothing was copied."""

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.migration import IcebergCatalogMigration
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES
from phlo_lakehouse_tests.operations.conftest import rows_of

pytestmark = [pytest.mark.nessie, pytest.mark.moto]


def test_a_sqlite_catalog_table_registered_into_nessie_reads_the_same_rows(
    nessie_lakehouse, s3_endpoint, tmp_path, unique_name
):
    sqlite = IcebergLakehouse(
        CatalogSettings(
            type="sql",
            uri=f"sqlite:///{tmp_path}/catalog.db",
            warehouse=f"s3://warehouse/{unique_name}",
            properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint},
        )
    )
    seed_demo_table(sqlite, "raw.events", commits=3, rows_per_commit=30)
    source = sqlite.get_table("raw.events")
    rows, location = rows_of(source), source.table.metadata_location
    migration = IcebergCatalogMigration(
        sqlite, nessie_lakehouse, drop_source=True, namespace=unique_name
    )

    summary = migration.run(["raw.*"])

    assert summary.ok, summary.summary()
    assert summary.tables[0].target == f"{unique_name}.events"
    assert summary.tables[0].validation["passed"]
    fresh = IcebergLakehouse(nessie_lakehouse.settings)  # a new client: what Nessie serves
    moved = fresh.get_table(f"{unique_name}.events")
    assert moved.table.metadata_location == location
    assert rows_of(moved) == rows
    assert sqlite.list_tables() == []
    again = migration.run(["raw.events"])
    assert again.tables[0].status == "skipped"


def test_one_table_travels_sql_to_nessie_to_glue_and_back_unchanged(
    nessie_lakehouse, s3_endpoint, tmp_path, unique_name
):
    from phlo_lakehouse_tests.migration.conftest import glue_properties

    def sqlite(name: str) -> IcebergLakehouse:
        return IcebergLakehouse(
            CatalogSettings(
                type="sql",
                uri=f"sqlite:///{tmp_path}/{name}.db",
                warehouse=f"s3://warehouse/{unique_name}",
                properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint},
            )
        )

    first, last = sqlite("first"), sqlite("last")
    glue = IcebergLakehouse(
        CatalogSettings(type="glue", name="glue", properties=glue_properties(s3_endpoint))
    )
    seed_demo_table(first, f"{unique_name}.events", commits=2, rows_per_commit=25)
    rows = rows_of(first.get_table(f"{unique_name}.events"))
    location = first.get_table(f"{unique_name}.events").table.metadata_location

    for source, target in ((first, nessie_lakehouse), (nessie_lakehouse, glue), (glue, last)):
        move = IcebergCatalogMigration(source, target, drop_source=True)
        summary = move.run([f"{unique_name}.events"])
        assert summary.ok, summary.summary()
        moved = IcebergLakehouse(target.settings).get_table(f"{unique_name}.events")
        assert moved.table.metadata_location == location
        assert rows_of(moved) == rows
        assert source.list_tables(unique_name) == []
