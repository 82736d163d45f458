"""Option and catalog mapping of the Spark engine, without Spark: every option of our operations
reaches its procedure argument, and every catalog type gets the Spark catalog that matches it."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from pyiceberg.expressions.parser import parse

from phlo_lakehouse import CatalogSettings, InvalidConfig, InvalidInput
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.engines.mapping import procedure_call
from phlo_lakehouse.engines.spark_catalog import catalog_conf, spark_catalog_name
from phlo_lakehouse.engines.sql import spark_filter, sql_string, sql_timestamp
from phlo_lakehouse.operations import (
    ExpireSnapshotsOperation,
    OptimizeOperation,
    RewriteManifestsOperation,
    VacuumOperation,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def table(lakehouse):
    return seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=20)


def sql_for(lakehouse, table, operation) -> str:
    plan = operation.plan(table)
    return procedure_call(operation, table, plan, now=NOW).sql("lakehouse")


# -- options ------------------------------------------------------------------------------------


def test_every_optimize_option_reaches_rewrite_data_files(lakehouse, table):
    op = OptimizeOperation(
        target_file_size="1MB",
        min_input_files=3,
        min_file_size_ratio=0.5,
        max_file_size_ratio=2.0,
        max_file_group_size="64MB",
        rewrite_all=True,
        delete_ratio_threshold=0.2,
        partial_progress=True,
        max_concurrent_groups=3,
        partition_filter="kind = 'it''s' and user_id in (1, 2)",
        remove_dangling_deletes=False,
        rewrite_job_order="bytes-desc",
        max_commits=4,
        max_failed_commits=2,
        delete_file_threshold=7,
        use_starting_sequence_number=False,
        output_spec_id=0,
        stitch="never",
    )
    sql = sql_for(lakehouse, table, op)
    assert sql.startswith(
        "CALL `lakehouse`.system.rewrite_data_files(table => '`demo`.`events`', "
        "strategy => 'binpack', options => map("
    )
    for option in (
        "'target-file-size-bytes', '1048576'",
        "'min-input-files', '3'",
        "'min-file-size-bytes', '524288'",
        "'max-file-size-bytes', '2097152'",
        "'max-file-group-size-bytes', '67108864'",
        "'rewrite-all', 'true'",
        "'delete-ratio-threshold', '0.2'",
        "'partial-progress.enabled', 'true'",
        "'max-concurrent-file-group-rewrites', '3'",
        "'remove-dangling-deletes', 'false'",
        "'rewrite-job-order', 'bytes-desc'",
        "'partial-progress.max-commits', '4'",
        "'partial-progress.max-failed-commits', '2'",
        "'delete-file-threshold', '7'",
        "'use-starting-sequence-number', 'false'",
        "'output-spec-id', '0'",
    ):
        assert option in sql
    # the filter's own literal 'it\'s' is escaped again inside the where string
    assert "where => '(`kind` = \\'it\\\\\\'s\\' AND `user_id` IN (1, 2))'" in sql


def test_target_defaults_to_the_tables_property_like_our_plan(lakehouse, table):
    with table.table.transaction() as tx:
        tx.set_properties({"write.target-file-size-bytes": "2048"})
    sql = sql_for(lakehouse, table.refresh(), OptimizeOperation(rewrite_all=True))
    assert "'target-file-size-bytes', '2048'" in sql and "'min-file-size-bytes', '1536'" in sql


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"strategy": "sort", "sort_by": ["user_id desc", "kind"]},
         "strategy => 'sort', sort_order => '`user_id` DESC NULLS LAST, `kind` ASC NULLS FIRST'"),
        ({"strategy": "sort", "sort_by": ["kind asc nulls last"]},
         "sort_order => '`kind` ASC NULLS LAST'"),
        ({"strategy": "zorder", "zorder_by": ["user_id", "amount"]},
         "strategy => 'sort', sort_order => 'zorder(`user_id`, `amount`)'"),
    ],
)  # fmt: skip
def test_strategies_map_to_strategy_and_sort_order(lakehouse, table, kwargs, expected):
    assert expected in sql_for(lakehouse, table, OptimizeOperation(**kwargs))


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("sort", "sort_order => '`loc`.`lat` ASC NULLS FIRST'"),
     ("zorder", "sort_order => 'zorder(`loc`.`lat`)'")],
)  # fmt: skip
def test_a_struct_field_is_passed_to_spark_as_a_field_path(lakehouse, strategy, expected):
    from pyiceberg.schema import Schema
    from pyiceberg.types import DoubleType, NestedField, StructType

    lakehouse.catalog().create_namespace("geo")
    created = lakehouse.catalog().create_table(
        "geo.places",
        Schema(NestedField(1, "loc", StructType(NestedField(2, "lat", DoubleType())))),
    )
    for lat in (2.0, 1.0):
        created.append(pa.Table.from_pylist([{"loc": {"lat": lat}}], created.schema().as_arrow()))
    nested = lakehouse.get_table("geo.places")
    key = {"sort_by" if strategy == "sort" else "zorder_by": ["loc.lat"]}
    operation = OptimizeOperation(strategy=strategy, rewrite_all=True, **key)
    sql = sql_for(lakehouse, nested, operation)
    assert expected in sql


def test_sort_without_columns_leaves_the_table_order_to_spark(lakehouse, table):
    from pyiceberg.transforms import IdentityTransform

    table.table.update_sort_order().asc("user_id", IdentityTransform()).commit()
    sql = sql_for(lakehouse, table.refresh(), OptimizeOperation(strategy="sort"))
    assert "strategy => 'sort'" in sql and "sort_order" not in sql


def test_expire_passes_the_plans_cutoff_and_retention(lakehouse, table):
    op = ExpireSnapshotsOperation(older_than="0s", retain_last=2)
    plan = op.plan(table)
    sql = procedure_call(op, table, plan, now=NOW).sql("lakehouse")
    cutoff = datetime.fromisoformat(plan.details["expire_older_than"])
    assert f"older_than => {sql_timestamp(cutoff)}, retain_last => 2" in sql


def test_expire_retention_from_table_properties_is_resolved_by_the_plan(lakehouse, table):
    with table.table.transaction() as tx:
        tx.set_properties({"history.expire.min-snapshots-to-keep": "3"})
    op = ExpireSnapshotsOperation(older_than="0s")
    handle = table.refresh()
    assert "retain_last => 3" in procedure_call(op, handle, op.plan(handle), now=NOW).sql("x")


def test_vacuum_maps_cutoff_location_mode_and_threads(lakehouse, table):
    from phlo_lakehouse.demo import plant_orphans

    plant_orphans(table, count=1)
    op = VacuumOperation(older_than="3d", prefix_mismatch="ignore", threads=3,
                         now=datetime.now(UTC))  # fmt: skip
    plan = op.plan(table)
    sql = procedure_call(op, table, plan, now=datetime.now(UTC)).sql("lakehouse")
    cutoff = sql_timestamp(datetime.fromisoformat(plan.details["cutoff"]))
    assert f"older_than => {cutoff}, location => '{table.table.location()}'" in sql
    assert "dry_run => false, prefix_mismatch_mode => 'IGNORE', max_concurrent_deletes => 3" in sql


def test_nothing_to_do_is_no_call(lakehouse, table):
    op = RewriteManifestsOperation()
    lakehouse.run(op, "demo.events")
    handle = lakehouse.get_table("demo.events")
    assert procedure_call(op, handle, op.plan(handle), now=NOW) is None


def test_manifest_target_equal_to_the_table_property_is_expressible(lakehouse, table):
    op = RewriteManifestsOperation(target_manifest_size="8MB")  # the default property value
    assert procedure_call(op, table, op.plan(table), now=NOW).procedure == "rewrite_manifests"


# -- SQL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("a >= 3 and b != 'x'", "(`a` >= 3 AND `b` != 'x')"),
        ("a is null or b is not null", "(`a` IS NULL OR `b` IS NOT NULL)"),
        ("a is nan", "isnan(`a`)"),
        ("kind like 'cl%'", "startswith(`kind`, 'cl')"),
        ("not kind in ('b', 'a')", "NOT (`kind` IN ('a', 'b'))"),
        ("s.x = 1.5", "`s`.`x` = 1.5"),
        ("true", "true"),
    ],
)
def test_partition_filters_translate_to_spark_sql(text, sql):
    assert spark_filter(parse(text)) == sql


def test_string_literals_escape_quotes_and_backslashes():
    assert sql_string("a'b\\c") == "'a\\'b\\\\c'"


def test_timestamps_are_utc_whatever_the_session_zone():
    from datetime import timedelta, timezone

    moment = datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert sql_timestamp(moment) == "TIMESTAMP '2026-01-01 00:00:00.000000Z'"


# -- catalogs -----------------------------------------------------------------------------------


def test_sql_catalog_on_sqlite_is_a_jdbc_catalog_spark_does_not_initialise(tmp_path):
    conf = catalog_conf(CatalogSettings.embedded(tmp_path))
    prefix = "spark.sql.catalog.lakehouse"
    assert conf[prefix] == "org.apache.iceberg.spark.SparkCatalog"
    assert conf[f"{prefix}.type"] == "jdbc"
    assert conf[f"{prefix}.uri"] == f"jdbc:sqlite:{tmp_path}/catalog.db"
    assert conf[f"{prefix}.warehouse"] == f"file://{tmp_path}/warehouse"
    assert conf[f"{prefix}.jdbc.init-catalog-tables"] == "false"
    assert conf[f"{prefix}.cache-enabled"] == "false"


def test_sql_catalog_on_postgres_carries_credentials_as_jdbc_properties():
    settings = CatalogSettings(
        type="sql", uri="postgresql+psycopg2://u:p%40ss@db:5433/lh", warehouse="s3://w/"
    )
    conf = catalog_conf(settings)
    assert conf["spark.sql.catalog.lakehouse.uri"] == "jdbc:postgresql://db:5433/lh"
    assert conf["spark.sql.catalog.lakehouse.jdbc.user"] == "u"
    assert conf["spark.sql.catalog.lakehouse.jdbc.password"] == "p@ss"


def test_in_memory_sqlite_cannot_be_shared():
    with pytest.raises(InvalidConfig, match="in-memory"):
        catalog_conf(CatalogSettings(type="sql", uri="sqlite:///:memory:", warehouse="file:///w"))


def test_nessie_is_a_rest_catalog_per_ref_with_s3_file_io():
    settings = CatalogSettings(
        type="nessie",
        uri="http://n:19120/api/v2",
        warehouse="warehouse",
        properties={"s3.endpoint": "http://s3:9000", "s3.region": "eu-west-1"},
    )
    main = catalog_conf(settings)
    assert main["spark.sql.catalog.lakehouse.type"] == "rest"
    assert main["spark.sql.catalog.lakehouse.uri"] == "http://n:19120/iceberg/main"
    assert main["spark.sql.catalog.lakehouse.io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert main["spark.sql.catalog.lakehouse.s3.endpoint"] == "http://s3:9000"
    assert main["spark.sql.catalog.lakehouse.client.region"] == "eu-west-1"
    name = spark_catalog_name(settings, "dev")
    assert name.startswith("lakehouse__dev_")
    assert catalog_conf(settings, "dev")[f"spark.sql.catalog.{name}.uri"].endswith("/iceberg/dev")


@pytest.mark.parametrize(
    ("settings", "key", "value"),
    [
        (CatalogSettings(type="glue", warehouse="s3://w/", properties={"glue.region": "us-east-1"}),
         "catalog-impl", "org.apache.iceberg.aws.glue.GlueCatalog"),
        (CatalogSettings(type="rest", uri="http://r:8181", properties={"token": "t"}),
         "token", "t"),
        (CatalogSettings(type="hive", uri="thrift://h:9083"), "uri", "thrift://h:9083"),
    ],
)  # fmt: skip
def test_other_catalog_types(settings, key, value):
    assert catalog_conf(settings)[f"spark.sql.catalog.lakehouse.{key}"] == value


def test_unmappable_filter_literal_is_invalid_input():
    from pyiceberg.expressions import EqualTo

    with pytest.raises(InvalidInput, match="no Spark SQL form"):
        spark_filter(EqualTo("d", b"\x00"))
