"""Planning a Hive or Glue table's migration (read only): describe the source, check its
format and schema, list its files, and decide the action from the catalogs' state (create,
replace a leftover staging table, resume after the backup, or skip a published table).

`ExternalTableMigration` adds staging, validation and publishing on top.

Example:
    >>> migration.plan("sales.orders").details["action"]     # doctest: +SKIP
    'create'
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import Conflict, InvalidConfig, InvalidInput, TableNotFound
from phlo_lakehouse.identifiers import (
    TableIdentifier,
    parse_table_identifier,
)
from phlo_lakehouse.migration.base import (
    BACKUP_PROPERTY,
    BACKUP_SUFFIX,
    MODE_PROPERTY,
    SOURCE_PROPERTY,
    STAGING_SUFFIX,
    CatalogMigration,
    load_iceberg_table,
)
from phlo_lakehouse.migration.datafiles import (
    FOOTER_THREADS,
    SourceFile,
    list_source_files,
)
from phlo_lakehouse.migration.metastore import (
    BACKUP_OF_PARAMETER,
    ICEBERG_SUBDIR,
    ExternalTable,
    iceberg_schema_and_spec,
)
from phlo_lakehouse.operations.base import OperationPlan
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.io import FileIO
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

    from phlo_lakehouse.lakehouse import IcebergLakehouse


class ExternalTablePlanning(CatalogMigration):
    """The planning half of `ExternalTableMigration`, and what each metastore provides.

    Args:
        target: where the Iceberg tables go (``migrate`` mode: the same metastore).
        io_properties: FileIO properties for listing and reading the source files (s3.* …);
            the target catalog's properties are used when None.
        threads: parallel footer reads and listings.
        Other arguments: see `CatalogMigration`.

    Raises:
        InvalidConfig: ``migrate`` mode with a target that is not the source's own catalog.
    """

    #: The metastore's name in messages ("Hive", "Glue").
    _metastore: ClassVar[str]

    def __init__(
        self,
        target: IcebergLakehouse,
        *,
        io_properties: Mapping[str, str] | None = None,
        threads: int = FOOTER_THREADS,
        **options: Any,
    ) -> None:
        super().__init__(target, **options)
        self.io_properties = dict(
            io_properties if io_properties is not None else target.settings.properties
        )
        self.threads = max(1, threads)
        if self.mode == "migrate" and (self.namespace or self.suffix):
            raise InvalidInput(
                "migrate mode keeps the source's name: namespace and suffix do not apply",
                hint=Phrase(
                    "use {} to create the Iceberg table under another name",
                    Arg("mode", "snapshot"),
                ),
            )
        if self.mode == "migrate" and not self._same_catalog():
            raise InvalidConfig(
                f"migrate mode replaces {self._metastore} tables in place: the target must be "
                f"{self._source_catalog()}, not the {target.settings.describe()}",
                hint=Phrase(
                    "use {} to create the Iceberg tables in another catalog",
                    Arg("mode", "snapshot"),
                ),
            )

    @abstractmethod
    def _source_catalog(self) -> str:
        """The source catalog in a sentence ("the Hive catalog at thrift://…")."""

    @abstractmethod
    def _source_tables(self) -> dict[TableIdentifier, Mapping[str, str]]:
        """Every table of the source metastore, with its parameters."""

    @abstractmethod
    def _describe(self, ident: TableIdentifier) -> ExternalTable | None:
        """The source table as the metastore has it now, or None."""

    @abstractmethod
    def _backup(self, table: ExternalTable, backup: TableIdentifier) -> None:
        """Keep ``table`` under the name ``backup`` (idempotent: may resume a partial backup)."""

    @abstractmethod
    def _backup_steps(self, table: ExternalTable, backup: TableIdentifier) -> list[str]:
        """The plan lines describing `_backup`."""

    def _database(self, ident: TableIdentifier) -> str:
        """The one database level of ``ident`` (Hive and Glue have no nested namespaces)."""
        if len(ident.namespace) != 1:
            raise InvalidConfig(
                f"{self._metastore} has one level of databases; {ident} has {len(ident.namespace)}",
                hint=f"name {self._metastore} tables database.table",
            )
        return ident.namespace[0]

    def source_name(self, ident: TableIdentifier) -> str:
        """How the target's ``phlo.migration.source`` property names ``ident``."""
        return f"{self.kind}:{ident}"

    def plan(self, source: str | TableIdentifier) -> OperationPlan:
        ident = parse_table_identifier(source)
        target = self.target_identifier(ident)
        staging = TableIdentifier(target.namespace, target.name + STAGING_SUFFIX)
        table = self._describe(ident)
        if self.mode == "migrate":
            return self._plan_migrate(ident, table, staging)
        return self._plan_snapshot(ident, target, table, staging)

    def _plan_snapshot(
        self,
        ident: TableIdentifier,
        target: TableIdentifier,
        table: ExternalTable | None,
        staging: TableIdentifier,
    ) -> OperationPlan:
        if table is None:
            raise self._not_found(ident)
        if table.is_iceberg:
            return self._skip(ident, target, f"{ident} is already an Iceberg table")
        if self._same_catalog() and target == ident:
            raise InvalidInput(
                f"a snapshot of {ident} in the same catalog needs another name",
                hint=Phrase(
                    "set {} or {}, or use {}",
                    Arg("suffix", "_iceberg"),
                    Arg("namespace"),
                    Arg("mode", "migrate"),
                ),
            )
        catalog = self.target.catalog()
        existing = load_iceberg_table(catalog, target)
        if existing is not None:
            if existing.properties.get(SOURCE_PROPERTY) == self.source_name(ident):
                return self._skip(ident, target, f"already migrated: {target} exists")
            raise Conflict(
                f"target table {target} exists and was not created from {self.source_name(ident)}",
                hint="drop or rename it, or choose another namespace or suffix",
            )
        self._schema_and_spec(table)
        files = list_source_files(self._io(), table.storage_units, threads=self.threads)
        stale = load_iceberg_table(catalog, staging) is not None
        steps = [
            *(
                [f"create namespace {'.'.join(target.namespace)}"]
                if not namespace_exists(catalog, target)
                else []
            ),
            *([f"drop the staging table {staging} left by an interrupted run"] if stale else []),
            self._stage_step(
                staging, table, files, "the catalog's default location of " + str(target)
            ),
            *([f"validate {staging} against {ident}"] if self.validate else []),
            f"rename {staging} -> {target} (gc.enabled=false: the files stay the source's)",
        ]
        return self._files_plan(ident, target, staging, "create", steps, table, files, stale)

    def _plan_migrate(
        self, ident: TableIdentifier, table: ExternalTable | None, staging: TableIdentifier
    ) -> OperationPlan:
        catalog = self.target.catalog()
        backup = backup_name(ident)
        if table is None:
            kept = self._describe(backup)
            staged = load_iceberg_table(catalog, staging)
            if (
                kept is not None
                and kept.parameters.get(BACKUP_OF_PARAMETER) == str(ident)
                and staged is not None
                and staged.properties.get(SOURCE_PROPERTY) == self.source_name(ident)
            ):
                steps = [f"rename {staging} -> {ident} (resuming an interrupted migration)"]
                return self._plan(ident, ident, "resume", steps, staging=str(staging))
            raise self._not_found(ident)
        if table.is_iceberg:
            if table.parameters.get(SOURCE_PROPERTY) == self.source_name(ident):
                return self._skip(ident, ident, f"already migrated (backup: {backup})")
            return self._skip(ident, ident, f"{ident} is already an Iceberg table")
        self._schema_and_spec(table)
        kept = self._describe(backup)
        if kept is not None and kept.parameters.get(BACKUP_OF_PARAMETER) != str(ident):
            raise Conflict(
                f"the backup name {backup} is taken by another table",
                hint=f"rename or drop {backup} first",
            )
        files = list_source_files(self._io(), table.storage_units, threads=self.threads)
        stale = load_iceberg_table(catalog, staging) is not None
        steps = [
            *([f"drop the staging table {staging} left by an interrupted run"] if stale else []),
            self._stage_step(
                staging, table, files, f"{table.location} (writing below {ICEBERG_SUBDIR}/)"
            ),
            *([f"validate {staging} against {ident}"] if self.validate else []),
            *self._backup_steps(table, backup),
            f"rename {staging} -> {ident}",
        ]
        return self._files_plan(ident, ident, staging, "replace", steps, table, files, stale)

    def _files_plan(
        self,
        ident: TableIdentifier,
        target: TableIdentifier,
        staging: TableIdentifier,
        action: str,
        steps: list[str],
        table: ExternalTable,
        files: list[SourceFile],
        stale: bool,
    ) -> OperationPlan:
        figures = {
            "data_files": len(files),
            "bytes": sum(f.size for f in files),
            "partitions": len(table.partitions),
        }
        return self._plan(
            ident,
            target,
            action,
            steps,
            figures,
            staging=str(staging),
            stale_staging=stale,
            location=table.location,
            partition_columns=[name for name, _ in table.partition_keys],
            files=[f.to_json() for f in files],
        )

    def _stage_step(
        self, staging: TableIdentifier, table: ExternalTable, files: list[SourceFile], where: str
    ) -> str:
        keys = ", ".join(name for name, _ in table.partition_keys) or "none"
        return (
            f"create Iceberg table {staging} at {where}: {len(files)} existing file(s) in "
            f"{len(table.partitions)} partition(s), identity partitioning on {keys}, name mapping"
        )

    def _skip(self, ident: TableIdentifier, target: TableIdentifier, reason: str) -> OperationPlan:
        return self._plan(ident, target, "skip", [f"nothing to do: {reason}"], reason=reason)

    def _not_found(self, ident: TableIdentifier) -> TableNotFound:
        return TableNotFound(
            f"{self.kind} table {ident} does not exist",
            hint="check the name; discover_tables(['db.*']) lists the source tables",
        )

    def _schema_and_spec(self, table: ExternalTable) -> tuple[Schema, PartitionSpec]:
        return iceberg_schema_and_spec(table, self.kind)

    def _properties(self, source: TableIdentifier, table: ExternalTable) -> dict[str, str]:
        properties = {SOURCE_PROPERTY: self.source_name(source), MODE_PROPERTY: self.mode}
        if self.mode == "snapshot":
            properties["gc.enabled"] = "false"
        else:
            root = table.location.rstrip("/")
            properties[BACKUP_PROPERTY] = str(backup_name(source))
            properties["write.metadata.path"] = f"{root}/{ICEBERG_SUBDIR}/metadata"
            properties["write.data.path"] = f"{root}/{ICEBERG_SUBDIR}/data"
        return properties

    def _io(self) -> FileIO:
        from pyiceberg.io.pyarrow import PyArrowFileIO

        return PyArrowFileIO(dict(self.io_properties))

    def _same_catalog(self) -> bool:
        """True when the target catalog is the source metastore itself."""
        return False


def namespace_exists(catalog: Catalog, ident: TableIdentifier) -> bool:
    return catalog.namespace_exists(ident.namespace)


def backup_name(ident: TableIdentifier) -> TableIdentifier:
    return TableIdentifier(ident.namespace, ident.name + BACKUP_SUFFIX)
