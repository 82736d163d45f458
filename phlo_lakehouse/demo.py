"""Demo tables for the embedded lakehouse: deterministic event rows written in many small commits.

Example:
    >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    >>> lh = IcebergLakehouse(CatalogSettings.embedded("/tmp/phlo-demo"))
    >>> handle = seed_demo_table(lh, commits=3, rows_per_commit=100)  # doctest: +SKIP
    >>> handle.to_arrow().num_rows  # doctest: +SKIP
    300
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from phlo_lakehouse.identifiers import parse_table_identifier

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.table import LakehouseTable

DEMO_TABLE = "demo.events"
_START = datetime(2026, 1, 1, tzinfo=UTC)


def demo_schema() -> Schema:
    """The demo table's Iceberg schema (field ids 1-5; event_time is field 2)."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        DoubleType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestamptzType,
    )

    return Schema(
        NestedField(1, "event_id", LongType(), required=False),
        NestedField(2, "event_time", TimestamptzType(), required=False),
        NestedField(3, "user_id", IntegerType(), required=False),
        NestedField(4, "kind", StringType(), required=False),
        NestedField(5, "amount", DoubleType(), required=False),
    )


def demo_rows(start_id: int, count: int, days: int = 4) -> pa.Table:
    """``count`` deterministic event rows with ids from ``start_id``, spread over ``days`` days."""
    import pyarrow as pa

    ids = list(range(start_id, start_id + count))
    return pa.table(
        {
            "event_id": pa.array(ids, pa.int64()),
            "event_time": pa.array(
                [_START + timedelta(days=i % days, seconds=i) for i in ids],
                pa.timestamp("us", tz="UTC"),
            ),
            "user_id": pa.array([i % 97 for i in ids], pa.int32()),
            "kind": pa.array([("click", "view", "buy")[i % 3] for i in ids], pa.string()),
            "amount": pa.array([round((i % 1000) * 0.25, 2) for i in ids], pa.float64()),
        }
    )


def seed_demo_table(
    lakehouse: IcebergLakehouse,
    name: str = DEMO_TABLE,
    *,
    commits: int = 8,
    rows_per_commit: int = 500,
    partitioned: bool = True,
    properties: dict[str, str] | None = None,
    replace: bool = False,
) -> LakehouseTable:
    """Create ``name`` (namespace too) and append ``commits`` batches, one small file set each.

    Args:
        lakehouse: where to create the table.
        name: table identifier.
        commits: number of append commits (each adds files and a snapshot).
        rows_per_commit: rows per append.
        partitioned: partition by day(event_time).
        properties: table properties to set at creation.
        replace: drop an existing table of that name first.
    """
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
    from pyiceberg.transforms import DayTransform

    ident = parse_table_identifier(name)
    catalog = lakehouse.catalog()
    catalog.create_namespace_if_not_exists(ident.namespace)
    if replace and catalog.table_exists(ident.as_tuple()):
        catalog.drop_table(ident.as_tuple())
    spec = (
        PartitionSpec(PartitionField(2, 1000, DayTransform(), "event_day"))
        if partitioned
        else UNPARTITIONED_PARTITION_SPEC
    )
    table = catalog.create_table(
        ident.as_tuple(), schema=demo_schema(), partition_spec=spec, properties=properties or {}
    )
    for i in range(commits):
        table.append(demo_rows(i * rows_per_commit, rows_per_commit))
    return lakehouse.get_table(ident)


def plant_orphans(handle: LakehouseTable, count: int = 10, *, age_days: float = 10.0) -> list[str]:
    """Write ``count`` unreferenced Parquet files into a local table's data directory, dated
    ``age_days`` ago — the leftovers of crashed writers that vacuum reclaims.

    Only for tables on a local (file://) warehouse, where modification times can be set.
    """
    import os
    import time
    import uuid
    from urllib.parse import urlparse

    import pyarrow.parquet as pq

    location = handle.table.location()
    if not location.startswith("file:"):
        raise ValueError("plant_orphans needs a table on a local file:// warehouse")
    data_dir = os.path.join(urlparse(location).path, "data", "orphans")
    os.makedirs(data_dir, exist_ok=True)
    stamp = time.time() - age_days * 86400
    paths = []
    for i in range(count):
        path = os.path.join(data_dir, f"orphan-{i:03d}-{uuid.uuid4()}.parquet")
        pq.write_table(demo_rows(10_000_000 + i * 10, 10), path)
        os.utime(path, (stamp, stamp))
        paths.append(f"file://{path}")
    return paths
