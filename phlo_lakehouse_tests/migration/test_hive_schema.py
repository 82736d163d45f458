"""Hive column types and partition values as Iceberg sees them (no service needed)."""

import re

import pytest
from pyiceberg import types as t

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.migration.hive_schema import (
    HIVE_NULL_PARTITION,
    hive_schema,
    hive_type_to_iceberg,
    partition_value,
)


@pytest.mark.parametrize(
    ("hive", "iceberg"),
    [
        ("bigint", "long"),
        ("TINYINT", "int"),
        ("varchar(20)", "string"),
        ("decimal(12, 2)", "decimal(12, 2)"),
        ("decimal", "decimal(10, 0)"),
        ("array<struct<a:int,b:string>>", "list<struct<a: optional int, b: optional string>>"),
        ("map<string,array<double>>", "map<string, list<double>>"),
    ],
)
def test_hive_types_map_to_iceberg_types(hive, iceberg):
    text = re.sub(r"\d{5}: ", "", str(hive_type_to_iceberg(hive, column="c")))  # nested ids
    assert text == iceberg


@pytest.mark.parametrize(
    ("hive", "words"),
    [
        ("uniontype<int,string>", "no Iceberg equivalent"),
        ("interval_day_time", "no Iceberg equivalent"),
        ("decimal(40,2)", "decimal(38)"),
        ("map<string", "ends too early"),
    ],
)
def test_types_iceberg_cannot_hold_fail_with_the_column_and_a_hint(hive, words):
    with pytest.raises(InvalidInput) as error:
        hive_type_to_iceberg(hive, column="payload")
    assert "payload" in error.value.message and words in error.value.message
    assert error.value.hint and "\n" not in str(error.value)


def test_schema_puts_partition_columns_last_and_rejects_duplicates():
    schema = hive_schema([("id", "bigint"), ("tags", "array<string>")], [("dt", "date")])
    assert [f.name for f in schema.fields] == ["id", "tags", "dt"]
    assert [f.field_id for f in schema.fields] == [1, 2, 3]  # nested ids come after
    assert not any(f.required for f in schema.fields)
    with pytest.raises(InvalidInput, match="appears twice"):
        hive_schema([("id", "bigint")], [("ID", "string")])


def test_partition_values_parse_to_iceberg_representations():
    assert partition_value("2026-01-02", t.DateType()) == 20455
    assert partition_value("2026-01-02 00:00:01", t.TimestampType()) == 1767312001000000
    assert partition_value("42", t.LongType()) == 42
    assert partition_value("true", t.BooleanType()) is True
    assert partition_value(HIVE_NULL_PARTITION, t.StringType()) is None
    with pytest.raises(InvalidInput, match="not a valid int"):
        partition_value("x", t.IntegerType())
