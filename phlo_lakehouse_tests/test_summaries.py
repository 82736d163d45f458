"""Fast-path statistics of many tables: the bulk path equals the per-table path."""

import pyarrow as pa
import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.metadata import MetadataCollector
from phlo_lakehouse.summaries import collect_summaries


@pytest.fixture
def lakehouse(tmp_path):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lakehouse"))
    seed_demo_table(lakehouse, "raw.events", commits=5, rows_per_commit=20)
    seed_demo_table(lakehouse, "mart.daily", commits=1, rows_per_commit=3)
    catalog = lakehouse.catalog()
    catalog.create_namespace("empty")
    catalog.create_table("empty.none", schema=pa.schema([("id", pa.int64())]))
    table = catalog.load_table("mart.daily")
    with table.transaction() as tx:
        tx.set_properties({"write.target-file-size-bytes": "1048576"})
    return lakehouse


def test_bulk_summaries_equal_the_per_table_fast_path(lakehouse):
    tables = lakehouse.resolve_tables(["*.*"])
    assert [str(t) for t in tables] == ["empty.none", "mart.daily", "raw.events"]
    bulk = list(collect_summaries(lakehouse, tables))
    one_by_one = [MetadataCollector().collect(lakehouse.get_table(t)) for t in tables]
    assert bulk == one_by_one
    assert bulk[1].target_file_size == 1048576 and bulk[0].snapshot_id is None
    assert bulk[2].snapshot_count == 5 and bulk[2].row_count == 100


def test_a_commit_between_calls_is_seen(lakehouse):
    tables = lakehouse.resolve_tables(["raw.*"])
    (before,) = collect_summaries(lakehouse, tables)
    handle = lakehouse.get_table("raw.events")
    handle.table.append(handle.to_arrow().slice(0, 5))
    (after,) = collect_summaries(lakehouse, tables)
    assert after.snapshot_count == before.snapshot_count + 1
    assert after.row_count == before.row_count + 5


def test_other_refs_load_tables_one_by_one(lakehouse):
    handle = lakehouse.get_table("raw.events")
    with handle.table.manage_snapshots() as ms:
        ms.create_branch(handle.snapshot_id, "audit")
    tables = lakehouse.resolve_tables(["raw.*"])
    (stats,) = collect_summaries(lakehouse, tables, "audit")
    assert stats == MetadataCollector().collect(lakehouse.get_table("raw.events", "audit"))
    assert stats.ref == "audit"
