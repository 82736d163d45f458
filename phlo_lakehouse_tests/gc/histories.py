"""Building Nessie histories for the GC tests with real writes: tables created, appended to,
compacted and dropped on branches, tags, merges — all through the lakehouse (PyIceberg over
Nessie's Iceberg REST endpoint, data on moto)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from phlo_lakehouse.lakehouse import IcebergLakehouse

SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("payload", pa.string())])


def rows(ids: Sequence[int]) -> pa.Table:
    return pa.table({"id": list(ids), "payload": [f"row-{i}" for i in ids]}, schema=SCHEMA)


@dataclass
class History:
    """Writes on a Nessie lakehouse, remembering every table location it created."""

    lakehouse: IcebergLakehouse
    namespace: str = "gc"
    locations: dict[str, list[str]] = field(default_factory=dict)
    next_id: int = 0

    def catalog(self, ref: str):
        catalog = self.lakehouse.catalog(ref)
        catalog.create_namespace_if_not_exists(self.namespace)
        return catalog

    def create(self, ref: str, table: str, batches: int = 1, rows_per_batch: int = 3) -> str:
        created = self.catalog(ref).create_table(f"{self.namespace}.{table}", schema=SCHEMA)
        self.locations.setdefault(table, []).append(created.location())
        for _ in range(batches):
            self.append(ref, table, rows_per_batch)
        return created.location()

    def append(self, ref: str, table: str, count: int = 3) -> None:
        loaded = self.lakehouse.catalog(ref).load_table(f"{self.namespace}.{table}")
        loaded.append(rows(range(self.next_id, self.next_id + count)))
        self.next_id += count

    def compact(self, ref: str, table: str) -> None:
        result = self.lakehouse.optimize_table(
            f"{self.namespace}.{table}", ref, min_input_files=2, target_file_size="64MB"
        )
        assert result.committed, result.summary()

    def drop(self, ref: str, table: str) -> None:
        self.lakehouse.catalog(ref).drop_table(f"{self.namespace}.{table}")

    def branch(self, name: str, from_ref: str = "main") -> None:
        self.lakehouse.nessie.create_branch(name, from_ref)

    def tag(self, name: str, from_ref: str = "main") -> None:
        self.lakehouse.nessie.create_tag(name, from_ref)

    def merge(self, source: str, onto: str = "main") -> None:
        self.lakehouse.nessie.merge(source, onto=onto)

    def all_locations(self) -> list[str]:
        return [location for found in self.locations.values() for location in found]


def read_rows(lakehouse: IcebergLakehouse, ref: str, commit_hash: str, tables: Sequence[str]):
    """Table key -> sorted ids read through Nessie's Iceberg REST endpoint at ``ref@hash``."""
    from urllib.parse import quote

    from pyiceberg.catalog.rest import RestCatalog

    settings = lakehouse.settings
    catalog = RestCatalog(
        f"at-{commit_hash[:8]}",
        uri=f"{settings.uri}/iceberg/{quote(ref, safe='')}@{commit_hash}",
        warehouse=settings.warehouse,
        **dict(settings.properties),
    )
    found = {}
    for key in tables:
        table = catalog.load_table(key)
        found[key] = sorted(table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist())
    return found


def commit_table_pointer(
    lakehouse: IcebergLakehouse, ref: str, key: str, metadata_location: str
) -> str:
    """Commit a Put of table ``key`` pointing at ``metadata_location`` straight through Nessie's
    API v2 (as Iceberg's own Nessie client commits), so a test can plant a table whose metadata
    says what no catalog would write; returns the new head."""
    import requests

    api = f"{lakehouse.settings.uri}/api/v2"
    head = requests.get(f"{api}/trees/{ref}", timeout=30).json()["reference"]["hash"]
    body = {
        "commitMeta": {"message": f"plant {key}"},
        "operations": [
            {
                "type": "PUT",
                "key": {"elements": key.split(".")},
                "content": {
                    "type": "ICEBERG_TABLE",
                    "metadataLocation": metadata_location,
                    "snapshotId": -1,
                    "schemaId": 0,
                    "specId": 0,
                    "sortOrderId": 0,
                },
            }
        ],
    }
    response = requests.post(f"{api}/trees/{ref}@{head}/history/commit", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["targetBranch"]["hash"]


def spark_rows(spark, lakehouse: IcebergLakehouse, ref: str, commit_hash: str, tables):
    """Table key -> sorted ids read by Spark through Nessie's Iceberg REST endpoint at
    ``ref@hash`` (a REST catalog registered in the running session for that commit)."""
    from urllib.parse import quote

    settings = lakehouse.settings
    properties = dict(settings.properties)
    name = f"gc_{commit_hash[:12]}"
    conf = {
        "": "org.apache.iceberg.spark.SparkCatalog",
        ".type": "rest",
        ".uri": f"{settings.uri}/iceberg/{quote(ref, safe='')}@{commit_hash}",
        ".warehouse": settings.warehouse or "warehouse",
        ".s3.access-key-id": properties["s3.access-key-id"],
        ".s3.secret-access-key": properties["s3.secret-access-key"],
        ".client.region": properties.get("s3.region", "us-east-1"),
        ".cache-enabled": "false",
    }
    for suffix, value in conf.items():
        spark.conf.set(f"spark.sql.catalog.{name}{suffix}", value)
    return {
        key: sorted(row.id for row in spark.sql(f"SELECT id FROM {name}.{key}").collect())
        for key in tables
    }
