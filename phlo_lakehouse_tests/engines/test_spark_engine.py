"""The Spark engine on real Spark: a Spark Connect server and a local SparkSession, each on a
SQLite catalog PyIceberg shares, and on Nessie (Iceberg REST + S3 on moto).

Every operation runs through the executor (our plan) and Iceberg's Spark procedure (the work);
its result must carry the figures the local engine reports on a twin table, and PyIceberg and
Spark must read the same rows afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse, InvalidConfig
from phlo_lakehouse.demo import plant_orphans, seed_demo_table
from phlo_lakehouse.engines import AutoEngine, SparkEngine
from phlo_lakehouse.operations import (
    ExpireSnapshotsOperation,
    OptimizeOperation,
    RewriteManifestsOperation,
    VacuumOperation,
)
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.listing import list_storage, normalize_location
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]


# -- helpers ------------------------------------------------------------------------------------


def twins(lakehouse, namespace: str) -> tuple[str, str]:
    """Two identical tables of 6 commits × 4 day partitions: for the local engine and Spark."""
    names = f"{namespace}.local", f"{namespace}.spark"
    for name in names:
        seed_demo_table(lakehouse, name, commits=6, rows_per_commit=50)
    return names


def pyiceberg_rows(handle) -> list[tuple]:
    """Rows as sorted tuples, timestamps as epoch microseconds (read by PyIceberg)."""
    table = handle.to_arrow()
    columns = [
        (c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c).to_pylist()
        for c in table.columns
    ]
    return sorted(zip(*columns, strict=True))


def spark_rows(engine: SparkEngine, handle) -> list[tuple]:
    """The same rows read by the engine's Spark session, through the engine's catalog."""
    spark = engine.session()
    name = ".".join(f"`{p}`" for p in (engine.catalog_for(handle), *handle.identifier.as_tuple()))
    frame = spark.sql(f"SELECT * FROM {name}")
    exprs = [
        f"unix_micros(`{f.name}`)" if f.dataType.typeName() == "timestamp" else f"`{f.name}`"
        for f in frame.schema.fields
    ]
    return sorted(tuple(row) for row in frame.selectExpr(*exprs).collect())


def orphans(handle) -> set:
    reachable = {normalize_location(p) for p in reachable_files(handle.table).all()}
    listed = list_storage(handle.table.io, handle.table.location())
    return {
        normalize_location(f.path)
        for f in listed
        if normalize_location(f.path) not in reachable and not Path(f.path).name.startswith(".")
    }


# -- each operation, on the Spark Connect server and on a local session ---------------------------


def test_optimize_rewrites_what_we_planned_like_the_local_engine(spark_setup, unique_name):
    lakehouse, engine = spark_setup
    local_name, spark_name = twins(lakehouse, unique_name)
    op = OptimizeOperation(min_input_files=2)
    local = lakehouse.run(op, local_name)
    result = lakehouse.run(op, spark_name, engine=engine)

    assert result.committed and result.details["engine"] == "spark"
    assert result.details["spark"]["procedure"] == "rewrite_data_files"
    assert result.figures == result.plan.figures == local.figures
    assert result.snapshot_id_after == lakehouse.get_table(spark_name).snapshot_id
    after = lakehouse.get_table(spark_name)
    assert after.snapshot.summary.operation.value == "replace"
    assert lakehouse.collect_stats(spark_name).file_count == 4
    assert pyiceberg_rows(after) == pyiceberg_rows(lakehouse.get_table(local_name))
    assert spark_rows(engine, after) == pyiceberg_rows(after)


def test_expire_deletes_what_the_local_engine_deletes(spark_setup, unique_name):
    lakehouse, engine = spark_setup
    local_name, spark_name = twins(lakehouse, unique_name)
    for name in (local_name, spark_name):  # replaced files for the expiry to delete
        lakehouse.run(OptimizeOperation(min_input_files=2), name)
    op = ExpireSnapshotsOperation(older_than="0s", retain_last=1)
    local = lakehouse.run(op, local_name)
    result = lakehouse.run(op, spark_name, engine=engine)

    assert result.committed and result.details["spark"]["procedure"] == "expire_snapshots"
    assert result.figures == local.figures
    assert result.figures["snapshots_to_expire"] == 6
    assert result.figures["data_files_to_delete"] == 24
    after = lakehouse.get_table(spark_name)
    assert len(after.table.snapshots()) == 1
    assert orphans(after) == set()
    assert spark_rows(engine, after) == pyiceberg_rows(after)


def test_vacuum_deletes_the_planned_orphans(spark_setup, unique_name):
    lakehouse, engine = spark_setup
    name = f"{unique_name}.events"
    handle = seed_demo_table(lakehouse, name, commits=3, rows_per_commit=20)
    planted = {normalize_location(p) for p in plant_orphans(handle, count=3)}
    result = lakehouse.run(VacuumOperation(older_than="3d"), name, engine=engine)

    assert not result.committed and result.details["spark"]["procedure"] == "remove_orphan_files"
    assert result.figures == result.plan.figures
    assert result.figures["orphan_files"] == 3 and result.figures["orphan_bytes"] > 0
    assert {normalize_location(p) for p in result.details["orphan_files"]} == planted
    after = lakehouse.get_table(name)
    assert orphans(after) == set()
    assert spark_rows(engine, after) == pyiceberg_rows(after)


def test_rewrite_manifests_matches_the_local_engine(spark_setup, unique_name):
    lakehouse, engine = spark_setup
    local_name, spark_name = twins(lakehouse, unique_name)
    local = lakehouse.run(RewriteManifestsOperation(), local_name)
    result = lakehouse.run(RewriteManifestsOperation(), spark_name, engine=engine)

    assert result.committed and result.details["spark"]["procedure"] == "rewrite_manifests"
    assert result.figures == local.figures
    after = lakehouse.get_table(spark_name)
    assert len(after.snapshot.manifests(after.table.io)) == 1
    assert spark_rows(engine, after) == pyiceberg_rows(after)


def test_nothing_to_do_calls_no_procedure(connect_lakehouse, connect_engine, unique_name):
    name = f"{unique_name}.events"
    handle = seed_demo_table(connect_lakehouse, name, commits=1, rows_per_commit=10)
    result = connect_lakehouse.run(OptimizeOperation(), name, engine=connect_engine)
    assert not result.committed and "procedure" not in result.details["spark"]
    assert result.snapshot_id_after == handle.snapshot_id


# -- option mapping on real Spark ---------------------------------------------------------------


def test_sort_order_and_partition_filter_reach_spark(
    connect_lakehouse, connect_engine, unique_name
):
    name = f"{unique_name}.events"
    seed_demo_table(connect_lakehouse, name, commits=4, rows_per_commit=40)
    op = OptimizeOperation(
        strategy="sort",
        sort_by=["user_id desc"],
        # the quote in it's goes through two levels of SQL string escaping
        partition_filter="event_time >= '2026-01-03T00:00:00+00:00' and kind != 'it''s'",
        min_input_files=2,
    )
    result = connect_lakehouse.run(op, name, engine=connect_engine)

    assert result.figures == result.plan.figures
    assert result.figures["partitions"] == 2 and result.figures["files_to_rewrite"] == 8
    sql = result.details["spark"]["sql"]
    assert "sort_order => '`user_id` DESC NULLS LAST'" in sql and "where => " in sql
    after = connect_lakehouse.get_table(name)
    assert len(after.table.scan().plan_files()) == 2 * 4 + 2  # days 1-2 untouched, 3-4 compacted
    late = after.table.scan(row_filter="event_time >= '2026-01-03T00:00:00+00:00'").plan_files()
    for task in late:
        ids = pq.read_table(urlparse(task.file.file_path).path).column("user_id").to_pylist()
        assert ids == sorted(ids, reverse=True)


def test_zorder_reaches_spark(connect_lakehouse, connect_engine, unique_name):
    name = f"{unique_name}.events"
    seed_demo_table(connect_lakehouse, name, commits=3, rows_per_commit=40, partitioned=False)
    op = OptimizeOperation(strategy="zorder", zorder_by=["user_id", "amount"], min_input_files=2)
    result = connect_lakehouse.run(op, name, engine=connect_engine)
    assert result.committed and "zorder(`user_id`, `amount`)" in result.details["spark"]["sql"]
    assert result.figures == result.plan.figures
    after = connect_lakehouse.get_table(name)
    assert spark_rows(connect_engine, after) == pyiceberg_rows(after)


def test_our_dry_run_and_sparks_dry_run_find_the_same_orphans(
    connect_lakehouse, connect_engine, unique_name
):
    name = f"{unique_name}.events"
    handle = seed_demo_table(connect_lakehouse, name, commits=3, rows_per_commit=20)
    connect_lakehouse.run(OptimizeOperation(min_input_files=2), name, engine=connect_engine)
    planted = {normalize_location(p) for p in plant_orphans(handle, count=4)}
    dry = connect_lakehouse.run(VacuumOperation(older_than="3d"), name, dry_run=True)

    ours = {normalize_location(p) for p in dry.details["orphan_files"]}
    spark = {normalize_location(p) for p in connect_engine.orphan_files(handle, dry.plan)}
    assert ours == spark == planted
    assert len(orphans(connect_lakehouse.get_table(name))) == 4  # both dry runs deleted nothing


# -- Nessie: Iceberg REST catalog with S3 on moto -----------------------------------------------


@pytest.fixture
def nessie_settings(nessie_uri, s3_endpoint) -> CatalogSettings:
    """Nessie settings under a catalog name of their own (``lakehouse`` is the SQLite catalog of
    the Spark Connect server)."""
    return CatalogSettings(
        type="nessie",
        name="engines_nessie",
        uri=nessie_uri,
        warehouse=os.environ.get("PHLO_TEST_NESSIE_WAREHOUSE", "warehouse"),
        properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint},
    )


@pytest.mark.nessie
@pytest.mark.parametrize("where", ["connect", "local"])
def test_optimize_on_nessie_reads_the_same_in_both_engines(
    request, where, nessie_settings, unique_name
):
    engine_fixture = request.getfixturevalue(f"{where}_engine")
    engine = SparkEngine(nessie_settings, session=engine_fixture.session())
    lakehouse = IcebergLakehouse(nessie_settings)
    name = f"{unique_name}.events"
    seed_demo_table(lakehouse, name, commits=4, rows_per_commit=25)
    before = pyiceberg_rows(lakehouse.get_table(name))
    result = lakehouse.run(OptimizeOperation(min_input_files=2), name, engine=engine)

    assert result.committed and result.figures == result.plan.figures
    assert result.figures["files_to_rewrite"] == 16
    after = lakehouse.get_table(name)
    assert after.snapshot_id == result.snapshot_id_after
    assert lakehouse.collect_stats(name).file_count == 4
    assert pyiceberg_rows(after) == before == spark_rows(engine, after)


@pytest.mark.nessie
def test_optimize_on_a_nessie_branch_leaves_main_alone(
    connect_engine, nessie_settings, unique_name
):
    """Each Nessie reference is a Spark catalog of its own (Nessie's REST endpoint per ref)."""
    lakehouse = IcebergLakehouse(nessie_settings)
    name, branch = f"{unique_name}.events", f"dev_{unique_name}"
    seed_demo_table(lakehouse, name, commits=4, rows_per_commit=10)
    main_head = lakehouse.get_table(name).snapshot_id
    lakehouse.nessie.create_branch(branch, "main")
    try:
        engine = SparkEngine(nessie_settings, session=connect_engine.session())
        result = lakehouse.run(OptimizeOperation(min_input_files=2), name, branch, engine=engine)
        assert result.committed and result.ref == branch
        assert f"CALL `engines_nessie__dev_{unique_name}_" in result.details["spark"]["sql"]
        assert lakehouse.get_table(name, branch).snapshot_id == result.snapshot_id_after
        assert lakehouse.get_table(name).snapshot_id == main_head
        assert lakehouse.collect_stats(name, branch).file_count == 4
    finally:
        lakehouse.nessie.delete(branch)


# -- auto ---------------------------------------------------------------------------------------


def test_auto_runs_small_tables_locally_and_large_ones_on_spark(
    connect_lakehouse, connect_engine, unique_name
):
    small, large = f"{unique_name}.small", f"{unique_name}.large"
    seed_demo_table(connect_lakehouse, small, commits=3, rows_per_commit=10, partitioned=False)
    seed_demo_table(connect_lakehouse, large, commits=3, rows_per_commit=2000, partitioned=False)
    sizes = [connect_lakehouse.collect_stats(n).size_bytes for n in (small, large)]
    auto = AutoEngine((sizes[0] + sizes[1]) // 2, connect_engine)  # lowered for the test
    op = OptimizeOperation(min_input_files=2)

    on_small = connect_lakehouse.run(op, small, engine=auto)
    on_large = connect_lakehouse.run(op, large, engine=auto)
    assert on_small.details["engine"] == "local" and on_large.details["engine"] == "spark"
    assert on_large.details["spark"]["procedure"] == "rewrite_data_files"
    assert on_small.details["engine_choice"]["size_bytes"] == sizes[0]
    assert "spark" in on_large.details["engine_choice"]["rule"]
    assert on_small.committed and on_large.committed
    assert on_small.figures == on_small.plan.figures and on_large.figures == on_large.plan.figures


# -- catalogs on the Spark Connect server -------------------------------------------------------


def test_without_settings_the_servers_own_catalog_is_used(
    connect_lakehouse, spark_connect_url, unique_name
):
    name = f"{unique_name}.events"
    seed_demo_table(connect_lakehouse, name, commits=4, rows_per_commit=10)
    engine = SparkEngine(remote=spark_connect_url)  # the server's --conf catalog "lakehouse"
    try:
        result = connect_lakehouse.run(RewriteManifestsOperation(), name, engine=engine)
    finally:
        engine.stop()
    assert result.committed and "CALL `lakehouse`.system" in result.details["spark"]["sql"]


def test_a_server_catalog_of_the_same_name_elsewhere_is_refused(
    lakehouse, spark_connect_url, unique_name
):
    """Our embedded catalog is also called "lakehouse", but the server's is another file."""
    handle = seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=10)
    engine = SparkEngine(lakehouse.settings, remote=spark_connect_url)
    try:
        with pytest.raises(InvalidConfig, match="configured differently") as caught:
            lakehouse.run(OptimizeOperation(), "demo.events", engine=engine)
    finally:
        engine.stop()
    assert "catalog name" in caught.value.hint
    assert lakehouse.get_table("demo.events").snapshot_id == handle.snapshot_id
