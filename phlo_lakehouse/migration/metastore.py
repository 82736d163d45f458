"""What a metastore (Hive, Glue) says about a table, and how Iceberg sees it: the storage format,
the columns as an Iceberg schema, the Hive partition columns as an identity partition spec.

Example:
    >>> storage_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat", None)
    'parquet'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.migration.datafiles import SourcePartition

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

#: Parameter on a backup table naming the table it is the backup of.
BACKUP_OF_PARAMETER = "phlo.migration.backup-of"
#: Where a migrated table writes below the source location (hidden from Hive and Spark).
ICEBERG_SUBDIR = "_iceberg"
_FORMAT_HINT = (
    "only Parquet tables migrate without rewriting data; rewrite it as Parquet first "
    "(CREATE TABLE … STORED AS PARQUET AS SELECT …)"
)


@dataclass(frozen=True)
class ExternalTable:
    """A table as its metastore describes it.

    Attributes:
        identifier: namespace (database) and name.
        location: the table location (``file:/…``, ``s3://…``).
        table_type: ``MANAGED_TABLE``, ``EXTERNAL_TABLE`` …
        columns / partition_keys: (name, Hive type) pairs.
        partitions: every partition (none for an unpartitioned table).
        formats: the storage format of the table and of every partition (``parquet``, ``csv``,
            ``text``, ``orc``, ``avro``, ``json`` or the input format class).
        parameters: the table parameters.
    """

    identifier: TableIdentifier
    location: str
    table_type: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    partitions: tuple[SourcePartition, ...]
    formats: frozenset[str]
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_iceberg(self) -> bool:
        """True for an Iceberg table registered in the metastore."""
        return self.parameters.get("table_type", "").lower() == "iceberg"

    @property
    def storage_units(self) -> tuple[SourcePartition, ...]:
        """The locations holding data: each partition, or the table location itself."""
        if self.partition_keys:
            return self.partitions
        return (SourcePartition((), self.location),)


def storage_format(input_format: str | None, serde: str | None, hints: Sequence[str] = ()) -> str:
    """A storage format's short name from its input format, serde and hints (Spark's
    ``spark.sql.sources.provider``, Glue's ``classification``).

    Example:
        >>> storage_format("org.apache.hadoop.mapred.TextInputFormat",
        ...                "org.apache.hadoop.hive.serde2.OpenCSVSerde")
        'csv'
    """
    text = " ".join(x for x in (*hints, input_format or "", serde or "") if x).lower()
    for name, markers in (
        ("iceberg", ("iceberg",)),
        ("parquet", ("parquet",)),
        ("orc", ("orc",)),
        ("avro", ("avro",)),
        ("csv", ("csv",)),
        ("json", ("json",)),
        ("text", ("textinputformat", "lazysimpleserde", "text")),
    ):
        if any(m in text for m in markers):
            return name
    return input_format or "unknown"


def iceberg_schema_and_spec(table: ExternalTable, kind: str) -> tuple[Schema, PartitionSpec]:
    """The Iceberg schema (data columns, then partition columns) and the identity partition
    spec on the partition columns that ``table`` becomes.

    Raises:
        InvalidInput: a format other than Parquet, or a column type Iceberg cannot hold.

    Example:
        >>> schema, spec = iceberg_schema_and_spec(hive_orders, "hive")   # doctest: +SKIP
        >>> [f.name for f in spec.fields]                                 # doctest: +SKIP
        ['dt']
    """
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform

    from phlo_lakehouse.migration.hive_schema import hive_schema

    unsupported = sorted(table.formats - {"parquet"})
    if unsupported:
        raise InvalidInput(
            f"{kind} table {table.identifier} is stored as {', '.join(unsupported)}",
            hint=_FORMAT_HINT,
        )
    try:
        schema = hive_schema(table.columns, table.partition_keys)
    except InvalidInput as e:
        raise InvalidInput(f"{kind} table {table.identifier}: {e.message}", hint=e.hint) from e
    fields = [
        PartitionField(
            source_id=schema.find_field(name).field_id,
            field_id=1000 + position,
            transform=IdentityTransform(),
            name=name,
        )
        for position, (name, _) in enumerate(table.partition_keys)
    ]
    return schema, PartitionSpec(*fields)
