"""`HiveMigration`: Parquet tables of a Hive metastore to Iceberg tables, without rewriting data.

The source is read with the raw thrift client that ships in the PyIceberg wheel
(``hive_metastore.ThriftHiveMetastore``): PyIceberg's `HiveCatalog` lists only Iceberg tables.

Modes (as Iceberg's Spark procedures):

- ``snapshot``: a new Iceberg table (in any target catalog) over the Hive table's files; the
  Hive table is untouched and the snapshot never deletes its files (``gc.enabled=false``).
- ``migrate``: the Iceberg table takes the Hive table's name and location in the same metastore;
  the Hive table is kept as ``<name>_backup_``. A managed table is first made EXTERNAL (the
  original type is kept in ``phlo.migration.original-table-type``): renaming a managed table
  moves its directory, and dropping the backup later must not delete the files the Iceberg
  table now owns.

Example:
    >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    >>> hive = IcebergLakehouse(CatalogSettings(type="hive", uri="thrift://127.0.0.1:9083"))
    >>> migration = HiveMigration(hive, metastore_uri="thrift://127.0.0.1:9083", mode="migrate")
    >>> migration.run(["sales.*"]).figures["migrated"]                  # doctest: +SKIP
    3
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from phlo_lakehouse.errors import CatalogUnavailable, InvalidConfig
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.migration.datafiles import SourcePartition
from phlo_lakehouse.migration.external import ExternalTableMigration
from phlo_lakehouse.migration.metastore import BACKUP_OF_PARAMETER, ExternalTable, storage_format

if TYPE_CHECKING:
    from hive_metastore.ThriftHiveMetastore import Client

    from phlo_lakehouse.lakehouse import IcebergLakehouse

ORIGINAL_TYPE_PARAMETER = "phlo.migration.original-table-type"
#: Keeps the metastore from scanning the files to refresh statistics on every alter.
_NO_STATS = {"DO_NOT_UPDATE_STATS": "true"}


class HiveMigration(ExternalTableMigration):
    """Hive metastore tables (Parquet) to Iceberg.

    Args:
        target: where the Iceberg tables go; in ``migrate`` mode the Hive catalog on
            ``metastore_uri`` itself.
        metastore_uri: ``thrift://host:port`` of the Hive metastore.
        **options: see `ExternalTableMigration` and `CatalogMigration` (mode, namespace,
            suffix, validate, sample_files, io_properties, threads, hooks, principal).

    Raises:
        InvalidConfig: malformed uri, or ``migrate`` mode with a target that is not the Hive
            catalog on the same metastore.
    """

    kind = "hive"
    _metastore = "Hive"

    def __init__(self, target: IcebergLakehouse, *, metastore_uri: str, **options: Any) -> None:
        parsed = urlparse(metastore_uri)
        if parsed.scheme != "thrift" or not parsed.hostname or not parsed.port:
            raise InvalidConfig(
                f"metastore uri {metastore_uri!r} is not thrift://host:port",
                hint="e.g. thrift://127.0.0.1:9083",
            )
        self.metastore_uri = metastore_uri
        super().__init__(target, **options)

    def _same_catalog(self) -> bool:
        settings = self.target.settings
        return settings.type == "hive" and _endpoint(settings.uri or "") == _endpoint(
            self.metastore_uri
        )

    def _source_catalog(self) -> str:
        return f"the Hive catalog at {self.metastore_uri}"

    @contextmanager
    def _client(self) -> Iterator[Client]:
        """An open thrift client; connection failures become `CatalogUnavailable`."""
        from hive_metastore.ThriftHiveMetastore import Client
        from thrift.protocol import TBinaryProtocol
        from thrift.transport import TSocket, TTransport
        from thrift.transport.TTransport import TTransportException

        parsed = urlparse(self.metastore_uri)
        transport = TTransport.TBufferedTransport(TSocket.TSocket(parsed.hostname, parsed.port))
        try:
            transport.open()
        except TTransportException as e:
            raise CatalogUnavailable(
                f"cannot reach the Hive metastore at {self.metastore_uri}: {e}",
                hint="check that the metastore runs (bash scripts/services/hive.sh status)",
            ) from e
        try:
            yield Client(TBinaryProtocol.TBinaryProtocol(transport))
        finally:
            transport.close()

    def _source_tables(self) -> dict[TableIdentifier, Mapping[str, str]]:
        found: dict[TableIdentifier, Mapping[str, str]] = {}
        with self._client() as client:
            for database in client.get_all_databases():
                names = client.get_all_tables(database)
                for table in client.get_table_objects_by_name(database, names) if names else []:
                    ident = TableIdentifier((database,), table.tableName)
                    found[ident] = dict(table.parameters or {})
        return found

    def _describe(self, ident: TableIdentifier) -> ExternalTable | None:
        from hive_metastore.ttypes import NoSuchObjectException

        database, name = self._database(ident), ident.name
        with self._client() as client:
            try:
                table = client.get_table(database, name)
            except NoSuchObjectException:
                return None
            parameters = dict(table.parameters or {})
            keys = tuple((k.name, k.type) for k in table.partitionKeys or [])
            partitions = client.get_partitions(database, name, -1) if keys else []
        hints = [parameters.get("spark.sql.sources.provider", "")]
        formats = {_format_of(table.sd, hints)}
        formats.update(_format_of(p.sd, hints) for p in partitions)
        if parameters.get("table_type", "").lower() == "iceberg":
            formats = {"iceberg"}
        return ExternalTable(
            identifier=ident,
            location=table.sd.location or "",
            table_type=table.tableType or "",
            columns=tuple((c.name, c.type) for c in table.sd.cols or []),
            partition_keys=keys,
            partitions=tuple(SourcePartition(tuple(p.values), p.sd.location) for p in partitions),
            formats=frozenset(formats),
            parameters=parameters,
        )

    def _backup_steps(self, table: ExternalTable, backup: TableIdentifier) -> list[str]:
        steps = []
        if table.table_type == "MANAGED_TABLE":
            steps.append(
                f"make {table.identifier} EXTERNAL (its files then stay where they are, and "
                "dropping the backup later keeps them)"
            )
        return [*steps, f"rename {table.identifier} -> {backup} (the backup)"]

    def _backup(self, table: ExternalTable, backup: TableIdentifier) -> None:
        from hive_metastore.ttypes import NoSuchObjectException

        database = self._database(table.identifier)
        with self._client() as client:
            try:
                current = client.get_table(database, table.identifier.name)
            except NoSuchObjectException:
                return  # renamed by an earlier, interrupted run
            parameters = dict(current.parameters or {})
            parameters[BACKUP_OF_PARAMETER] = str(table.identifier)
            if current.tableType == "MANAGED_TABLE":
                parameters[ORIGINAL_TYPE_PARAMETER] = "MANAGED_TABLE"
                parameters["EXTERNAL"] = "TRUE"
                current.tableType = "EXTERNAL_TABLE"
            current.parameters = parameters
            _alter_table(client, database, table.identifier.name, current)
            _rename_table(client, database, table.identifier.name, current, backup.name)


def _alter_table(client: Client, database: str, name: str, table: Any) -> None:
    from hive_metastore.ttypes import EnvironmentContext

    client.alter_table_with_environment_context(
        database, name, table, EnvironmentContext(properties=dict(_NO_STATS))
    )


def _rename_table(client: Client, database: str, name: str, table: Any, new_name: str) -> None:
    """Rename ``database.name`` (an EXTERNAL table by now: the metastore moves no file)."""
    table.tableName = new_name
    _alter_table(client, database, name, table)


def _format_of(sd: Any, hints: list[str]) -> str:
    serde = sd.serdeInfo.serializationLib if sd is not None and sd.serdeInfo else None
    return storage_format(sd.inputFormat if sd is not None else None, serde, hints)


def _endpoint(uri: str) -> tuple[str, int | None]:
    parsed = urlparse(uri)
    host = parsed.hostname or ""
    return ("127.0.0.1" if host == "localhost" else host, parsed.port)
