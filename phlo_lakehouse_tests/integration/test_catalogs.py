"""IcebergLakehouse against real catalog services: PostgreSQL, moto (S3 + Glue) and Nessie."""

import pyarrow as pa
import pytest

from phlo_lakehouse import (
    CatalogSettings,
    IcebergLakehouse,
    NamespaceNotFound,
    RefNotFound,
    TableNotFound,
)
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, glue_on_moto


@pytest.mark.postgres
def test_postgres_sql_catalog_round_trip_and_stats(postgres_url, tmp_path, unique_name):
    settings = CatalogSettings(
        type="sql", name=unique_name, uri=postgres_url, warehouse=f"file://{tmp_path}/warehouse"
    )
    lakehouse = IcebergLakehouse(settings)
    seed_demo_table(lakehouse, f"{unique_name}.events", commits=3, rows_per_commit=40)

    again = IcebergLakehouse(settings)  # a second client sees the committed state
    assert again.get_table(f"{unique_name}.events").to_arrow().num_rows == 120
    stats = again.collect_stats(f"{unique_name}.events", full=True)
    assert (stats.row_count, stats.snapshot_count, stats.partition_count) == (120, 3, 4)
    assert [str(t) for t in again.list_tables(unique_name)] == [f"{unique_name}.events"]


@pytest.mark.moto
def test_sql_catalog_with_an_s3_warehouse_on_moto(s3_endpoint, tmp_path, unique_name):
    settings = CatalogSettings(
        type="sql",
        uri=f"sqlite:///{tmp_path}/catalog.db",
        warehouse=f"s3://warehouse/{unique_name}",
        properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint},
    )
    lakehouse = IcebergLakehouse(settings)
    handle = seed_demo_table(lakehouse, "raw.events", commits=2, rows_per_commit=25)
    assert handle.table.location().startswith(f"s3://warehouse/{unique_name}")
    assert lakehouse.get_table("raw.events").to_arrow().num_rows == 50
    assert lakehouse.collect_stats("raw.events", full=True).file_count == 8


@pytest.mark.moto
def test_glue_catalog_on_moto(s3_endpoint, unique_name):
    settings = glue_on_moto(s3_endpoint, unique_name)
    lakehouse = IcebergLakehouse(settings)
    lakehouse.catalog().create_namespace(unique_name)
    table = lakehouse.catalog().create_table(
        f"{unique_name}.kv",
        schema=pa.schema([("k", pa.int64())]),
        location=f"s3://warehouse/{unique_name}/kv",
    )
    table.append(pa.table({"k": [1, 2, 3]}))
    assert lakehouse.get_table(f"{unique_name}.kv").to_arrow().num_rows == 3
    assert lakehouse.collect_stats(f"{unique_name}.kv").row_count == 3
    with pytest.raises(TableNotFound):
        lakehouse.get_table(f"{unique_name}.missing")


@pytest.mark.nessie
def test_nessie_branch_reads_its_own_state(nessie_lakehouse, unique_name):
    lakehouse = nessie_lakehouse
    name = f"{unique_name}.events"
    seed_demo_table(lakehouse, name, commits=2, rows_per_commit=30)
    branch = f"dev_{unique_name}"
    lakehouse.nessie.create_branch(branch, from_ref="main")

    dev = lakehouse.get_table(name, ref=branch)
    dev.table.append(demo_rows(10_000, 7))

    main_rows = lakehouse.get_table(name).to_arrow().num_rows
    dev_handle = lakehouse.get_table(name, ref=branch)
    assert (main_rows, dev_handle.to_arrow().num_rows) == (60, 67)
    assert dev_handle.nessie and dev_handle.table_ref == "main"
    assert lakehouse.collect_stats(name, branch).row_count == 67
    assert lakehouse.collect_stats(name, "main").row_count == 60
    assert name in [str(t) for t in lakehouse.list_tables(unique_name, ref=branch)]


@pytest.mark.nessie
def test_nessie_tag_pins_state_and_unknown_refs_raise(nessie_lakehouse, unique_name):
    lakehouse = nessie_lakehouse
    name = f"{unique_name}.events"
    seed_demo_table(lakehouse, name, commits=1, rows_per_commit=10)
    tag = f"v_{unique_name}"
    lakehouse.nessie.create_tag(tag, from_ref="main")
    lakehouse.get_table(name).table.append(demo_rows(100, 5))
    assert lakehouse.get_table(name, ref=tag).to_arrow().num_rows == 10
    assert lakehouse.get_table(name).to_arrow().num_rows == 15
    with pytest.raises(RefNotFound) as info:
        lakehouse.get_table(name, ref=f"nope_{unique_name}")
    assert "refs list" in info.value.hint
    with pytest.raises(NamespaceNotFound):
        lakehouse.get_table(f"nope_{unique_name}.events")
    with pytest.raises(TableNotFound):
        lakehouse.get_table(f"{unique_name}.nope")
    names = {r.name for r in lakehouse.nessie.list()}
    assert {"main", tag} <= names
