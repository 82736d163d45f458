"""The exported Spark DDL, executed by real Spark + Iceberg, creates a table with an equal schema
and the same partitioning (on the shared SQLite catalog both engines use)."""

import pytest
from pyiceberg.schema import Schema

from phlo_lakehouse.schema import SchemaManager
from phlo_lakehouse_tests.test_schema import rich_schema, rich_spec

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]


def run_ddl(spark, ddl: str) -> None:
    for statement in ddl.split(";\n"):
        spark.sql(statement)


def partitioning(table) -> list[tuple[str, str]]:
    schema = table.schema()
    return [(schema.find_column_name(f.source_id), str(f.transform)) for f in table.spec().fields]


def shape(schema: Schema) -> list:
    """The schema without field ids: names, types, nullability and docs, nested ones too."""

    def walk(kind):
        if kind.is_primitive:
            return str(kind)
        if hasattr(kind, "fields"):
            return [(f.name, walk(f.field_type), f.required, f.doc) for f in kind.fields]
        if hasattr(kind, "element_type"):
            return ("list", walk(kind.element_type), kind.element_required)
        return ("map", walk(kind.key_type), walk(kind.value_type), kind.value_required)

    return walk(schema.as_struct())


def test_spark_creates_an_equal_table_from_the_exported_ddl(spark, shared_lakehouse, unique_name):
    lakehouse = shared_lakehouse
    catalog = lakehouse.catalog()
    catalog.create_namespace(unique_name)
    source = catalog.create_table(
        f"{unique_name}.source", schema=rich_schema(), partition_spec=rich_spec()
    )
    copy_name = f"{lakehouse.settings.name}.{unique_name}.copy"
    ddl = SchemaManager(lakehouse).export_schema(
        f"{unique_name}.source", "sql", dialect="spark", table_name=copy_name
    )
    run_ddl(spark, ddl)

    copy = lakehouse.get_table(f"{unique_name}.copy").table
    assert copy.schema() == source.schema()  # field ids and identifier fields included
    assert copy.schema().find_field("location.lat").doc == "latitude"
    assert (
        partitioning(copy)
        == partitioning(source)
        == [
            ("ts", "day"),
            ("id", "bucket[16]"),
            ("name", "truncate[4]"),
            ("ok", "identity"),
        ]
    )
    assert spark.table(copy_name).columns == [f.name for f in source.schema().fields]


def test_an_evolved_schema_exports_to_the_same_shape(spark, shared_lakehouse, unique_name):
    lakehouse = shared_lakehouse
    catalog = lakehouse.catalog()
    catalog.create_namespace(unique_name)
    catalog.create_table(f"{unique_name}.source", schema=rich_schema(), partition_spec=rich_spec())
    manager = SchemaManager(lakehouse)
    manager.evolve_schema(
        f"{unique_name}.source",
        add_columns={"country": "string", "location.alt": "double"},
        drop_columns=["payload"],
        rename_columns={"name": "full_name"},
        widen_types={"user_id": "long"},
        make_optional=["location.lat"],
    )
    copy_name = f"{lakehouse.settings.name}.{unique_name}.copy"
    run_ddl(spark, manager.export_schema(f"{unique_name}.source", "sql", table_name=copy_name))

    source = lakehouse.get_table(f"{unique_name}.source").table
    copy = lakehouse.get_table(f"{unique_name}.copy").table
    # Spark assigns fresh ids (the evolved source has gaps); everything else is equal.
    assert shape(copy.schema()) == shape(source.schema())
    assert partitioning(copy) == partitioning(source)
    assert copy.schema().identifier_field_ids == [copy.schema().find_field("id").field_id]
