"""SchemaManager on a real embedded table: one-commit evolution with validation, diffs by field
id, compatibility over the table's history, and exports (the Python export rebuilds the schema)."""

import json

import pyarrow as pa
import pytest
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform, DayTransform, IdentityTransform, TruncateTransform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)

from phlo_lakehouse import InvalidInput, LakehouseError, NotFound
from phlo_lakehouse.schema import SchemaManager, diff_schemas
from phlo_lakehouse.schema_export import export_schema

T = "db.things"


def rich_schema() -> Schema:
    return Schema(
        NestedField(1, "id", LongType(), required=True, doc="primary key"),
        NestedField(2, "user_id", IntegerType()),
        NestedField(3, "name", StringType(), doc="it's the name"),
        NestedField(4, "ts", TimestamptzType()),
        NestedField(5, "local_ts", TimestampType()),
        NestedField(6, "amount", DecimalType(10, 2)),
        NestedField(7, "score", FloatType()),
        NestedField(8, "ok", BooleanType()),
        NestedField(9, "day", DateType()),
        NestedField(10, "payload", BinaryType()),
        NestedField(
            11,
            "location",
            StructType(
                NestedField(12, "lat", DoubleType(), required=True, doc="latitude"),
                NestedField(13, "lon", DoubleType()),
            ),
        ),
        NestedField(14, "tags", ListType(15, StringType(), element_required=False)),
        NestedField(16, "attrs", MapType(17, StringType(), 18, LongType(), value_required=False)),
        identifier_field_ids=[1],
    )


def rich_spec() -> PartitionSpec:
    return PartitionSpec(
        PartitionField(4, 1000, DayTransform(), "ts_day"),
        PartitionField(1, 1001, BucketTransform(16), "id_bucket"),
        PartitionField(3, 1002, TruncateTransform(4), "name_trunc"),
        PartitionField(8, 1003, IdentityTransform(), "ok"),
    )


@pytest.fixture
def table(lakehouse):
    catalog = lakehouse.catalog()
    catalog.create_namespace("db")
    created = catalog.create_table(T, schema=rich_schema(), partition_spec=rich_spec())
    created.append(_rows(created))
    return lakehouse


def _rows(table) -> pa.Table:
    arrow = table.schema().as_arrow()
    values = {"id": [1, 2], "user_id": [7, 8], "location": [{"lat": 1.0, "lon": 2.0}] * 2}
    columns = {
        f.name: pa.array(values[f.name], f.type) if f.name in values else pa.nulls(2, f.type)
        for f in arrow
    }
    return pa.table(columns, schema=arrow)


def location(lakehouse) -> str:
    return lakehouse.get_table(T).table.metadata_location


def test_evolve_in_one_commit(table):
    lakehouse = table
    manager = SchemaManager(lakehouse)
    before = lakehouse.get_table(T).table
    old_snapshot, versions = before.current_snapshot().snapshot_id, len(before.metadata.schemas)
    lon_id = before.schema().find_field("location.lon").field_id

    dry = manager.evolve_schema(T, add_columns={"country": "string"}, dry_run=True)
    assert dry.dry_run and dry.figures["columns_added"] == 1
    assert location(lakehouse) == before.metadata_location

    result = manager.evolve_schema(
        T,
        add_columns={"country": "string", "location.alt": "double"},
        drop_columns=["payload"],
        rename_columns={"name": "full_name", "location.lon": "lng"},
        widen_types={"user_id": "long", "score": "double", "amount": "decimal(12, 2)"},
        make_optional=["location.lat"],
    )
    assert result.operation == "evolve_schema" and result.committed
    after = lakehouse.get_table(T).table
    assert len(after.metadata.schemas) == versions + 1  # one new schema version …
    assert len(after.metadata.metadata_log) == len(before.metadata.metadata_log) + 1  # 1 commit
    schema = after.schema()
    assert schema.find_field("full_name").field_id == 3
    assert schema.find_field("location.lng").field_id == lon_id
    assert str(schema.find_field("user_id").field_type) == "long"
    assert str(schema.find_field("amount").field_type) == "decimal(12, 2)"
    assert not schema.find_field("location.lat").required
    assert "payload" not in schema.column_names and "country" in schema.column_names
    assert result.figures["schema_id_after"] == schema.schema_id
    rows = SchemaManager(lakehouse).lakehouse.get_table(T).table.scan().to_arrow()
    assert rows.column("user_id").to_pylist() == [7, 8] and rows.column("country").null_count == 2
    old = after.scan(snapshot_id=old_snapshot).to_arrow()  # time travel keeps the old names
    assert "name" in old.column_names and "full_name" not in old.column_names


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"drop_columns": ["nope"]}, "no column 'nope'"),
        ({"rename_columns": {"nope": "x"}}, "no column"),
        ({"widen_types": {"Name": "string"}}, "no column 'Name'"),
        ({"make_optional": ["location.nope"]}, "no column"),
        ({"widen_types": {"name": "int"}}, "from string to int"),
        ({"widen_types": {"id": "int"}}, "from long to int"),
        ({"widen_types": {"amount": "decimal(12, 3)"}}, "decimal"),
        ({"widen_types": {"location": "string"}}, "location"),
        ({"add_columns": {"name": "string"}}, "already exists"),
        ({"add_columns": {"ok.flag": "string"}}, "not a struct"),
        ({"add_columns": {"x": "integr"}}, "not an Iceberg type"),
        ({"rename_columns": {"name": "user_id"}}, "already exists"),
        ({"rename_columns": {"name": "a.b"}}, "plain name"),
        ({"drop_columns": ["ts"]}, "partitioning"),
        ({"drop_columns": ["id"]}, "identifier"),
        ({"drop_columns": ["name"], "rename_columns": {"name": "n"}}, "dropped and changed"),
        ({}, "no schema change"),
    ],
)
def test_bad_evolution_fails_before_any_commit(table, changes, match):
    lakehouse = table
    before = location(lakehouse)
    with pytest.raises(LakehouseError, match=match) as info:
        SchemaManager(lakehouse).evolve_schema(T, **changes)
    assert isinstance(info.value, InvalidInput | NotFound)
    assert "\n" not in str(info.value) and info.value.hint
    assert location(lakehouse) == before


def test_required_add_is_refused(table):
    from phlo_lakehouse.operations.schema_ops import NewColumn

    with pytest.raises(InvalidInput, match="required") as info:
        SchemaManager(table).evolve_schema(
            T, add_columns=[NewColumn("must", StringType(), required=True)]
        )
    assert "optional" in info.value.hint


def test_diff_by_field_id(table):
    lakehouse = table
    manager = SchemaManager(lakehouse)
    manager.evolve_schema(
        T,
        add_columns={"country": "string"},
        drop_columns=["payload"],
        rename_columns={"name": "full_name"},
        widen_types={"user_id": "long"},
        make_optional=["location.lat"],
    )
    diff = manager.diff_schemas(T)
    kinds = {(c.kind, c.path, c.before, c.after) for c in diff.changes}
    country = lakehouse.get_table(T).table.schema().find_field("country").field_id
    assert kinds == {
        ("added", "country", None, "country"),
        ("removed", "payload", "payload", None),
        ("renamed", "full_name", "name", "full_name"),
        ("type_changed", "user_id", "int", "long"),
        ("nullability", "location.lat", "required", "optional"),
    }
    assert {c.field_id for c in diff.of_kind("added")} == {country}
    assert (diff.from_schema_id, diff.to_schema_id) == (0, 1)
    assert json.dumps(diff.to_dict())
    assert manager.diff_schemas(T, 1, 0).of_kind("added")[0].path == "payload"
    with pytest.raises(NotFound, match="no schema 7"):
        manager.diff_schemas(T, 7)

    documented = Schema(NestedField(1, "id", LongType(), doc="new doc"))
    (doc,) = diff_schemas(Schema(NestedField(1, "id", LongType())), documented).changes
    assert (doc.kind, doc.before, doc.after) == ("doc", None, "new doc")


def test_validate_evolution_against_the_tables_history(table):
    manager = SchemaManager(table)
    assert manager.validate_evolution(T, add_columns={"country": "string"}, mode="FULL").compatible
    report = manager.validate_evolution(T, drop_columns=["day"], mode="FORWARD")
    assert report.compatible  # `day` is optional
    report = manager.validate_evolution(T, widen_types={"user_id": "long"}, mode="FULL")
    assert not report.compatible
    assert report.breaking[0].path == "user_id" and report.breaking[0].direction == "forward"
    manager.evolve_schema(T, make_optional=["location.lat"])
    current = table.get_table(T).table.schema()
    location_field = current.find_field("location")
    lat, lon = location_field.field_type.fields
    strict_location = NestedField(
        location_field.field_id,
        "location",
        StructType(NestedField(lat.field_id, "lat", DoubleType(), required=True), lon),
    )
    required_again = Schema(
        *[f if f.name != "location" else strict_location for f in current.fields], schema_id=2
    )
    assert manager.validate_evolution(T, required_again, mode="FORWARD").compatible
    report = manager.validate_evolution(T, required_again, mode="BACKWARD")
    assert [b.path for b in report.breaking] == ["location.lat"]
    with pytest.raises(InvalidInput, match="mode"):
        manager.validate_evolution(T, required_again, mode="sideways")
    assert len(table.get_table(T).table.metadata.schemas) == 2  # validation commits nothing


SPARK_DDL = """CREATE TABLE lakehouse.db.things (
  `id` BIGINT NOT NULL COMMENT 'primary key',
  `user_id` INT,
  `name` STRING COMMENT 'it\\'s the name',
  `ts` TIMESTAMP,
  `local_ts` TIMESTAMP_NTZ,
  `amount` DECIMAL(10, 2),
  `score` FLOAT,
  `ok` BOOLEAN,
  `day` DATE,
  `payload` BINARY,
  `location` STRUCT<`lat`: DOUBLE NOT NULL COMMENT 'latitude', `lon`: DOUBLE>,
  `tags` ARRAY<STRING>,
  `attrs` MAP<STRING, BIGINT>
)
USING iceberg
PARTITIONED BY (days(`ts`), bucket(16, `id`), truncate(4, `name`), `ok`);
ALTER TABLE lakehouse.db.things SET IDENTIFIER FIELDS `id`"""

TRINO_DDL = """CREATE TABLE iceberg.db.things (
  "id" BIGINT NOT NULL COMMENT 'primary key',
  "user_id" INTEGER,
  "name" VARCHAR COMMENT 'it''s the name',
  "ts" TIMESTAMP(6) WITH TIME ZONE,
  "local_ts" TIMESTAMP(6),
  "amount" DECIMAL(10, 2),
  "score" REAL,
  "ok" BOOLEAN,
  "day" DATE,
  "payload" VARBINARY,
  "location" ROW("lat" DOUBLE, "lon" DOUBLE),
  "tags" ARRAY(VARCHAR),
  "attrs" MAP(VARCHAR, BIGINT)
)
WITH (partitioning = ARRAY['day(ts)', 'bucket(id, 16)', 'truncate(name, 4)', 'ok'])"""


def test_export_sql_ddl(table):
    manager = SchemaManager(table)
    assert manager.export_schema(T, "sql") == SPARK_DDL
    with pytest.raises(InvalidInput, match="nested fields") as info:
        manager.export_schema(T, "sql", dialect="trino")  # location.lat is required
    assert "\n" not in str(info.value) and info.value.hint
    manager.evolve_schema(T, make_optional=["location.lat"])
    assert manager.export_schema(T, "ddl", dialect="trino") == TRINO_DDL.replace(
        "DOUBLE NOT NULL", "DOUBLE"
    )
    spark = manager.export_schema(T, "sql", table_name="other.db.copy")
    assert spark.startswith("CREATE TABLE other.db.copy (")


def test_export_python_rebuilds_an_equal_schema(table):
    manager = SchemaManager(table)
    manager.evolve_schema(T, add_columns={"location.alt": "double"}, rename_columns={"ok": "good"})
    code = manager.export_schema(T, "python")
    namespace: dict = {}
    exec(compile(code, "<export>", "exec"), namespace)
    rebuilt, original = namespace["schema"], table.get_table(T).table.schema()
    assert rebuilt == original
    assert rebuilt.schema_id == original.schema_id
    assert rebuilt.identifier_field_ids == original.identifier_field_ids == [1]
    assert [f.doc for f in rebuilt.fields] == [f.doc for f in original.fields]
    assert rebuilt.find_field("location.lat").doc == "latitude"


def test_export_json_arrow_markdown(table):
    manager = SchemaManager(table)
    original = table.get_table(T).table.schema()
    assert Schema.model_validate_json(manager.export_schema(T, "json")) == original
    arrow = manager.export_schema(T, "arrow")
    assert "id: int64 not null" in arrow and "PARQUET:field_id" in arrow
    markdown = manager.export_schema(T, "md")
    lat_id = original.find_field("location.lat").field_id
    assert f"| {lat_id} | location.lat | double | yes | latitude |" in markdown
    assert "Partitioned by: day(ts), bucket(id, 16), truncate(name, 4), ok" in markdown
    assert "Identifier fields: id" in markdown


@pytest.mark.parametrize(
    ("fmt", "dialect", "match"),
    [("yaml", "spark", "not an export format"), ("sql", "mysql", "not a SQL dialect")],
)
def test_bad_export_format(table, fmt, dialect, match):
    with pytest.raises(InvalidInput, match=match) as info:
        SchemaManager(table).export_schema(T, fmt, dialect=dialect)
    assert "\n" not in str(info.value) and "use one of" in info.value.hint


def test_types_a_dialect_cannot_express_are_refused():
    uuid = Schema(NestedField(1, "u", UUIDType()))
    with pytest.raises(InvalidInput, match="no exact spark"):
        export_schema(uuid, "sql", dialect="spark")
    assert '"u" UUID' in export_schema(uuid, "sql", dialect="trino")
    strict_list = Schema(NestedField(1, "l", ListType(2, LongType(), element_required=True)))
    with pytest.raises(InvalidInput, match="list elements"):
        export_schema(strict_list, "sql")
