"""Export an Iceberg table's schema: Markdown, SQL DDL (Spark or Trino, with partitioning),
PyIceberg Python code, Iceberg JSON, or the Arrow schema.

The DDL is exact or refused: a type or nullability the dialect cannot express (Spark has no
``time``, ``uuid`` or ``fixed``; neither dialect declares non-null list elements or map values;
Trino cannot declare nested fields NOT NULL) raises `InvalidInput` instead of exporting a
different schema. Partitioning comes out as Spark's ``PARTITIONED BY (days(ts), bucket(16, id))``
or Trino's ``WITH (partitioning = ARRAY['day(ts)', 'bucket(id, 16)'])``. Spark DDL sets
identifier fields with a second statement (``ALTER TABLE … SET IDENTIFIER FIELDS``, from
Iceberg's SQL extensions), separated by ``;`` and a newline; Trino DDL has no identifier fields.

Example:
    >>> from pyiceberg.schema import Schema
    >>> from pyiceberg.types import NestedField, LongType
    >>> print(export_schema(Schema(NestedField(1, "id", LongType(), required=True)), "sql",
    ...                     table_name="lakehouse.db.t"))
    CREATE TABLE lakehouse.db.t (
      `id` BIGINT NOT NULL
    )
    USING iceberg
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType, NestedField

FORMATS = ("markdown", "sql", "python", "json", "arrow")
DIALECTS = ("spark", "trino")
_FORMAT_ALIASES = {"md": "markdown", "ddl": "sql", "py": "python"}
_SPARK = {
    "boolean": "BOOLEAN", "int": "INT", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
    "date": "DATE", "timestamp": "TIMESTAMP_NTZ", "timestamptz": "TIMESTAMP", "string": "STRING",
    "binary": "BINARY",
}  # fmt: skip
_TRINO = {
    "boolean": "BOOLEAN", "int": "INTEGER", "long": "BIGINT", "float": "REAL", "double": "DOUBLE",
    "date": "DATE", "time": "TIME(6)", "timestamp": "TIMESTAMP(6)",
    "timestamptz": "TIMESTAMP(6) WITH TIME ZONE", "string": "VARCHAR", "uuid": "UUID",
    "binary": "VARBINARY",
}  # fmt: skip
_SPARK_TRANSFORMS = {"year": "years", "month": "months", "day": "days", "hour": "hours"}


def export_table_schema(
    table: Table, fmt: str, *, dialect: str = "spark", table_name: str = "t"
) -> str:
    """`export_schema` for a table: its current schema and default partition spec."""
    return export_schema(
        table.schema(), fmt, spec=table.spec(), dialect=dialect, table_name=table_name
    )


def export_schema(
    schema: Schema,
    fmt: str,
    *,
    spec: PartitionSpec | None = None,
    dialect: str = "spark",
    table_name: str = "t",
) -> str:
    """The schema as text in ``fmt`` (markdown, sql, python, json, arrow).

    Args:
        schema: the Iceberg schema.
        fmt: the output format ("md", "ddl" and "py" are accepted too).
        spec: the partition spec (markdown and sql show it).
        dialect: "spark" or "trino" for sql.
        table_name: the table name used in sql and markdown.

    Raises:
        InvalidInput: unknown format or dialect; a type the dialect cannot express.
    """
    kind = _FORMAT_ALIASES.get(str(fmt).strip().lower(), str(fmt).strip().lower())
    if kind not in FORMATS:
        raise InvalidInput(
            f"{fmt!r} is not an export format", hint=f"use one of {', '.join(FORMATS)}"
        )
    if kind == "sql" and dialect not in DIALECTS:
        raise InvalidInput(
            f"{dialect!r} is not a SQL dialect", hint=f"use one of {', '.join(DIALECTS)}"
        )
    if kind == "json":
        return schema.model_dump_json(by_alias=True, indent=2)
    if kind == "arrow":
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        return schema_to_pyarrow(schema).to_string(show_field_metadata=True)
    if kind == "python":
        return _python(schema)
    if kind == "markdown":
        return _markdown(schema, spec, table_name)
    return (
        _spark_ddl(schema, spec, table_name)
        if dialect == "spark"
        else _trino_ddl(schema, spec, table_name)
    )


# -- SQL ---------------------------------------------------------------------------------------


def _spark_ddl(schema: Schema, spec: PartitionSpec | None, name: str) -> str:
    columns = ",\n".join(f"  {_spark_field(f, top=True)}" for f in schema.fields)
    lines = [f"CREATE TABLE {name} (", columns, ")", "USING iceberg"]
    parts = _partitions(schema, spec, "spark")
    if parts:
        lines.append(f"PARTITIONED BY ({', '.join(parts)})")
    statement = "\n".join(lines)
    if schema.identifier_field_ids:  # needs Iceberg's Spark SQL extensions
        names = [_spark_path(schema.find_column_name(i) or "") for i in schema.identifier_field_ids]
        statement += f";\nALTER TABLE {name} SET IDENTIFIER FIELDS {', '.join(names)}"
    return statement


def _spark_path(path: str) -> str:
    return ".".join(f"`{p}`" for p in path.split("."))


def _spark_field(field: NestedField, *, top: bool) -> str:
    sep = " " if top else ": "
    text = f"`{field.name}`{sep}{_spark_type(field.field_type, field.name)}"
    if field.required:
        text += " NOT NULL"
    if field.doc:
        escaped = field.doc.replace("\\", "\\\\").replace("'", "\\'")
        text += f" COMMENT '{escaped}'"
    return text


def _spark_type(kind: IcebergType, where: str) -> str:
    from pyiceberg.types import DecimalType, ListType, MapType, StructType

    if isinstance(kind, StructType):
        return f"STRUCT<{', '.join(_spark_field(f, top=False) for f in kind.fields)}>"
    if isinstance(kind, ListType):
        _nullable_only(kind.element_required, where, "spark", "list elements")
        return f"ARRAY<{_spark_type(kind.element_type, where)}>"
    if isinstance(kind, MapType):
        _nullable_only(kind.value_required, where, "spark", "map values")
        key, value = _spark_type(kind.key_type, where), _spark_type(kind.value_type, where)
        return f"MAP<{key}, {value}>"
    if isinstance(kind, DecimalType):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    return _primitive(_SPARK, kind, where, "spark")


def _trino_ddl(schema: Schema, spec: PartitionSpec | None, name: str) -> str:
    columns = []
    for field in schema.fields:
        text = f'  "{field.name}" {_trino_type(field.field_type, field.name)}'
        text += " NOT NULL" if field.required else ""
        if field.doc:
            text += " COMMENT '{}'".format(field.doc.replace("'", "''"))
        columns.append(text)
    lines = [f"CREATE TABLE {name} (", ",\n".join(columns), ")"]
    parts = _partitions(schema, spec, "trino")
    if parts:
        quoted = ", ".join("'{}'".format(p.replace("'", "''")) for p in parts)
        lines.append(f"WITH (partitioning = ARRAY[{quoted}])")
    return "\n".join(lines)


def _trino_type(kind: IcebergType, where: str) -> str:
    from pyiceberg.types import DecimalType, ListType, MapType, StructType

    if isinstance(kind, StructType):
        for f in kind.fields:
            _nullable_only(f.required, f"{where}.{f.name}", "trino", "nested fields")
        inner = ", ".join(f'"{f.name}" {_trino_type(f.field_type, where)}' for f in kind.fields)
        return f"ROW({inner})"
    if isinstance(kind, ListType):
        _nullable_only(kind.element_required, where, "trino", "list elements")
        return f"ARRAY({_trino_type(kind.element_type, where)})"
    if isinstance(kind, MapType):
        _nullable_only(kind.value_required, where, "trino", "map values")
        key, value = _trino_type(kind.key_type, where), _trino_type(kind.value_type, where)
        return f"MAP({key}, {value})"
    if isinstance(kind, DecimalType):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    return _primitive(_TRINO, kind, where, "trino")


def _primitive(table: dict[str, str], kind: IcebergType, where: str, dialect: str) -> str:
    name = str(kind)
    if name not in table:
        raise InvalidInput(
            f"column {where}: type {name} has no exact {dialect} DDL equivalent",
            hint="export another dialect or format (json, python), or change the column type",
        )
    return table[name]


def _nullable_only(required: bool, where: str, dialect: str, what: str) -> None:
    if required:
        raise InvalidInput(
            f"column {where}: {dialect} DDL cannot declare non-null {what}",
            hint="export json or python for the exact schema, or make them optional",
        )


def _partitions(schema: Schema, spec: PartitionSpec | None, dialect: str) -> list[str]:
    parts = []
    for field in spec.fields if spec is not None else ():
        source = schema.find_column_name(field.source_id)
        transform = str(field.transform)
        base, _, arg = transform.partition("[")
        arg = arg.rstrip("]")
        if base == "void":
            continue
        if dialect == "spark":
            column = _spark_path(source or "")
            if base == "identity":
                parts.append(column)
            elif arg:
                parts.append(f"{base}({arg}, {column})")
            else:
                parts.append(f"{_SPARK_TRANSFORMS[base]}({column})")
        elif base == "identity":
            parts.append(f"{source}")
        else:
            parts.append(f"{base}({source}{', ' + arg if arg else ''})")
    return parts


# -- Markdown, Python ----------------------------------------------------------------------------


def _markdown(schema: Schema, spec: PartitionSpec | None, name: str) -> str:
    lines = [
        f"### {name} (schema {schema.schema_id})",
        "",
        "| id | column | type | required | doc |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path, field in _flatten(schema.fields, ""):
        kind = str(field.field_type) if field.field_type.is_primitive else _kind(field)
        doc = (field.doc or "").replace("|", "\\|").replace("\n", " ")
        required = "yes" if field.required else "no"
        lines.append(f"| {field.field_id} | {path} | {kind} | {required} | {doc} |")
    parts = _partitions(schema, spec, "trino")
    lines += ["", f"Partitioned by: {', '.join(parts) if parts else 'none'}"]
    if schema.identifier_field_ids:
        names = [schema.find_column_name(i) for i in schema.identifier_field_ids]
        lines.append(f"Identifier fields: {', '.join(n or '?' for n in names)}")
    return "\n".join(lines)


def _flatten(fields: Sequence[NestedField], prefix: str) -> list[tuple[str, NestedField]]:
    from pyiceberg.types import ListType, MapType, StructType

    out = []
    for field in fields:
        path = f"{prefix}{field.name}"
        out.append((path, field))
        kind = field.field_type
        if isinstance(kind, StructType):
            out += _flatten(kind.fields, f"{path}.")
        elif isinstance(kind, ListType):
            out += _flatten([kind.element_field], f"{path}.")
        elif isinstance(kind, MapType):
            out += _flatten([kind.key_field, kind.value_field], f"{path}.")
    return out


def _kind(field: NestedField) -> str:
    return type(field.field_type).__name__.removesuffix("Type").lower()


def _python(schema: Schema) -> str:
    used: set[str] = {"NestedField"}
    fields = "".join(f"    {_py_field(f, used, 1)},\n" for f in schema.fields)
    imports = "".join(f"    {name},\n" for name in sorted(used))
    ids = list(schema.identifier_field_ids)
    return (
        "from pyiceberg.schema import Schema\n"
        f"from pyiceberg.types import (\n{imports})\n\n"
        "schema = Schema(\n"
        f"{fields}"
        f"    schema_id={schema.schema_id},\n"
        f"    identifier_field_ids={ids!r},\n"
        ")\n"
    )


def _py_field(field: NestedField, used: set[str], depth: int) -> str:
    args = [
        f"field_id={field.field_id}",
        f"name={field.name!r}",
        f"field_type={_py_type(field.field_type, used, depth)}",
        f"required={field.required!r}",
    ]
    for extra in ("doc", "initial_default", "write_default"):
        value: Any = getattr(field, extra)
        if value is not None:
            args.append(f"{extra}={value!r}")
    return f"NestedField({', '.join(args)})"


def _py_type(kind: IcebergType, used: set[str], depth: int) -> str:
    from pyiceberg.types import DecimalType, FixedType, ListType, MapType, StructType

    name = type(kind).__name__
    used.add(name)
    if isinstance(kind, DecimalType):
        return f"{name}({kind.precision}, {kind.scale})"
    if isinstance(kind, FixedType):
        return f"{name}({len(kind)})"
    if isinstance(kind, StructType):
        pad = "    " * (depth + 1)
        inner = "".join(f"{pad}{_py_field(f, used, depth + 1)},\n" for f in kind.fields)
        return f"{name}(\n{inner}{'    ' * depth})"
    if isinstance(kind, ListType):
        element = _py_type(kind.element_type, used, depth)
        return (
            f"{name}(element_id={kind.element_id}, element_type={element}, "
            f"element_required={kind.element_required!r})"
        )
    if isinstance(kind, MapType):
        key, value = _py_type(kind.key_type, used, depth), _py_type(kind.value_type, used, depth)
        return (
            f"{name}(key_id={kind.key_id}, key_type={key}, value_id={kind.value_id}, "
            f"value_type={value}, value_required={kind.value_required!r})"
        )
    return f"{name}()"
