"""`GlueMigration`: Parquet tables of the AWS Glue Data Catalog to Iceberg tables, without
rewriting data.

Modes as for Hive (`HiveMigration`): ``snapshot`` creates a new Iceberg table in any target
catalog and leaves the Glue table alone; ``migrate`` gives the Glue table's name and location to
the Iceberg table (a Glue catalog target on the same endpoint and region) and keeps the Glue
table as ``<name>_backup_``. Glue cannot rename tables, so the backup is a copy of the table
definition and its partitions, made before the original entry is deleted; deleting a Glue table
never deletes its S3 objects.

Connection settings are PyIceberg's Glue catalog properties (``glue.endpoint``,
``glue.region``, ``glue.access-key-id``, ``glue.secret-access-key``, ``glue.session-token``);
files are listed and read with the ``s3.*`` properties.

Example:
    >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    >>> glue = IcebergLakehouse(CatalogSettings(type="glue", warehouse="s3://warehouse/"))
    >>> GlueMigration(glue, mode="migrate").run(["sales.*"]).ok       # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import CatalogUnavailable, Conflict
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.migration.datafiles import SourcePartition
from phlo_lakehouse.migration.external import ExternalTableMigration
from phlo_lakehouse.migration.metastore import BACKUP_OF_PARAMETER, ExternalTable, storage_format

if TYPE_CHECKING:
    from phlo_lakehouse.lakehouse import IcebergLakehouse

#: Glue's limit for BatchCreatePartition.
_PARTITION_BATCH = 100
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)


class GlueMigration(ExternalTableMigration):
    """Glue Data Catalog tables (Parquet on S3) to Iceberg.

    Args:
        target: where the Iceberg tables go; in ``migrate`` mode a Glue catalog on the same
            endpoint and region.
        glue_properties: PyIceberg-style ``glue.*`` properties of the source catalog (default:
            the target's properties).
        **options: see `ExternalTableMigration` and `CatalogMigration`.

    Raises:
        InvalidConfig: ``migrate`` mode with a target that is not the same Glue catalog.
    """

    kind = "glue"
    _metastore = "Glue"

    def __init__(
        self,
        target: IcebergLakehouse,
        *,
        glue_properties: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        self.glue_properties = dict(
            glue_properties if glue_properties is not None else target.settings.properties
        )
        super().__init__(target, **options)
        self._glue: Any = None

    def _same_catalog(self) -> bool:
        theirs = self.target.settings.properties
        return self.target.settings.type == "glue" and all(
            theirs.get(key) == self.glue_properties.get(key)
            for key in ("glue.endpoint", "glue.region")
        )

    def _source_catalog(self) -> str:
        return "the Glue catalog the tables are in"

    def _client(self) -> Any:
        if self._glue is None:
            import boto3

            props = self.glue_properties
            self._glue = boto3.client(
                "glue",
                endpoint_url=props.get("glue.endpoint"),
                region_name=props.get("glue.region") or props.get("s3.region") or "us-east-1",
                aws_access_key_id=props.get("glue.access-key-id"),
                aws_secret_access_key=props.get("glue.secret-access-key"),
                aws_session_token=props.get("glue.session-token"),
            )
        return self._glue

    def _call(self, method: str, **kwargs: Any) -> Any:
        """One Glue API call; connection failures become `CatalogUnavailable`."""
        from botocore.exceptions import BotoCoreError

        try:
            return getattr(self._client(), method)(**kwargs)
        except BotoCoreError as e:
            raise CatalogUnavailable(
                f"cannot reach AWS Glue ({type(e).__name__}: {str(e)[:160]})",
                hint="check glue.endpoint, glue.region and the credentials",
            ) from e

    def _pages(self, method: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = self._call(method, **kwargs, **({"NextToken": token} if token else {}))
            items.extend(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return items

    def _source_tables(self) -> dict[TableIdentifier, Mapping[str, str]]:
        found: dict[TableIdentifier, Mapping[str, str]] = {}
        for database in self._pages("get_databases", "DatabaseList"):
            for table in self._pages("get_tables", "TableList", DatabaseName=database["Name"]):
                ident = TableIdentifier((database["Name"],), table["Name"])
                found[ident] = dict(table.get("Parameters") or {})
        return found

    def _get_table(self, ident: TableIdentifier) -> dict[str, Any] | None:
        client, database = self._client(), self._database(ident)
        try:
            return self._call("get_table", DatabaseName=database, Name=ident.name)["Table"]
        except client.exceptions.EntityNotFoundException:
            return None

    def _partitions(self, ident: TableIdentifier) -> list[dict[str, Any]]:
        return self._pages(
            "get_partitions", "Partitions", DatabaseName=self._database(ident), TableName=ident.name
        )

    def _describe(self, ident: TableIdentifier) -> ExternalTable | None:
        table = self._get_table(ident)
        if table is None:
            return None
        parameters = dict(table.get("Parameters") or {})
        keys = tuple((k["Name"], k["Type"]) for k in table.get("PartitionKeys") or [])
        partitions = self._partitions(ident) if keys else []
        hints = [parameters.get("classification", "")]
        formats = {_format_of(table.get("StorageDescriptor"), hints)}
        formats.update(_format_of(p.get("StorageDescriptor"), hints) for p in partitions)
        if parameters.get("table_type", "").lower() == "iceberg":
            formats = {"iceberg"}
        sd = table.get("StorageDescriptor") or {}
        return ExternalTable(
            identifier=ident,
            location=sd.get("Location", ""),
            table_type=table.get("TableType", ""),
            columns=tuple((c["Name"], c["Type"]) for c in sd.get("Columns", [])),
            partition_keys=keys,
            partitions=tuple(
                SourcePartition(tuple(p["Values"]), p["StorageDescriptor"]["Location"])
                for p in partitions
            ),
            formats=frozenset(formats),
            parameters=parameters,
        )

    def _backup_steps(self, table: ExternalTable, backup: TableIdentifier) -> list[str]:
        return [
            f"copy the Glue table {table.identifier} and its {len(table.partitions)} "
            f"partition(s) to {backup} (the backup)",
            f"delete the Glue entry {table.identifier} (its S3 objects stay)",
        ]

    def _backup(self, table: ExternalTable, backup: TableIdentifier) -> None:
        current = self._get_table(table.identifier)
        if current is None:
            return  # an earlier, interrupted run got past the delete
        database = self._database(table.identifier)
        table_input = {k: current[k] for k in _TABLE_INPUT_KEYS if k in current}
        table_input["Name"] = backup.name
        table_input["Parameters"] = {
            **(current.get("Parameters") or {}),
            BACKUP_OF_PARAMETER: str(table.identifier),
        }
        kept = self._get_table(backup)
        if kept is None:
            self._call("create_table", DatabaseName=database, TableInput=table_input)
        elif (kept.get("Parameters") or {}).get(BACKUP_OF_PARAMETER) != str(table.identifier):
            raise Conflict(f"the backup name {backup} is taken", hint=f"drop {backup} first")
        have = {tuple(p["Values"]) for p in self._partitions(backup)} if table.partitions else set()
        missing = [
            {
                "Values": p["Values"],
                "StorageDescriptor": p["StorageDescriptor"],
                "Parameters": p.get("Parameters") or {},
            }
            for p in self._partitions(table.identifier)
            if tuple(p["Values"]) not in have
        ]
        for start in range(0, len(missing), _PARTITION_BATCH):
            answer = self._call(
                "batch_create_partition",
                DatabaseName=database,
                TableName=backup.name,
                PartitionInputList=missing[start : start + _PARTITION_BATCH],
            )
            errors = [e for e in answer.get("Errors", []) if "AlreadyExists" not in str(e)]
            if errors:
                raise Conflict(
                    f"could not copy partitions of {table.identifier} to {backup}: {errors[0]}",
                    hint="re-run the migration: the backup is completed where it stopped",
                )
        _delete_table(self, database, table.identifier.name)


def _delete_table(migration: GlueMigration, database: str, name: str) -> None:
    """Delete a Glue table entry (Glue never deletes the S3 objects)."""
    migration._call("delete_table", DatabaseName=database, Name=name)  # noqa: SLF001


def _format_of(sd: Mapping[str, Any] | None, hints: list[str]) -> str:
    sd = sd or {}
    serde = (sd.get("SerdeInfo") or {}).get("SerializationLibrary")
    return storage_format(sd.get("InputFormat"), serde, hints)
