"""What Hive and Glue migrations share: a Parquet table described by a metastore becomes an
Iceberg table over the same files, in ``snapshot`` or ``migrate`` mode.

Each table goes through the same steps, each safe to re-run:

1. **plan** (read only): describe the source, check its format and schema, list its files;
2. **stage**: build the data files (footers only; partition values from the metastore), then
   create ``<target>_phlo_staging_`` in one commit: identity partition spec on the Hive
   partition columns, a name mapping, every file appended;
3. **validate** the staged table against the source (`validation`); on failure drop it (its
   metadata files too, never a data file) and stop: nothing was published, the source is as it
   was;
4. ``migrate`` mode only: keep the source as ``<name>_backup_`` (`_backup`, per kind);
5. **publish**: rename the staged table to the target name.

A re-run recognises each state from the catalogs alone: a published table carrying
``phlo.migration.source`` is skipped, a leftover staging table is dropped and redone, and a
source already backed up whose staging table exists is resumed at step 5.

In ``snapshot`` mode the new table gets ``gc.enabled=false``: its files belong to the source.
In ``migrate`` mode the Iceberg table takes over the source location, writing metadata and new
data below ``_iceberg/``, a hidden directory Hive and Spark readers of the backup skip.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import Conflict, InvalidInput, TableNotFound
from phlo_lakehouse.identifiers import (
    TableIdentifier,
    TableSelector,
    parse_table_identifier,
    select_tables,
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
    ParquetImport,
    SourceFile,
    build_data_files,
    list_source_files,
)
from phlo_lakehouse.migration.metastore import (
    BACKUP_OF_PARAMETER,
    ExternalTable,
    iceberg_schema_and_spec,
)
from phlo_lakehouse.migration.staging import create_staged_table, default_location, drop_staging
from phlo_lakehouse.operations.base import OperationPlan, OperationResult

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.io import FileIO
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.migration.validation import ValidationReport

#: Where a migrated table writes below the source location (hidden from Hive and Spark).
ICEBERG_SUBDIR = "_iceberg"


class ExternalTableMigration(CatalogMigration):
    """Parquet tables of a metastore (Hive, Glue) to Iceberg tables over the same files.

    Args:
        target: where the Iceberg tables go (``migrate`` mode: the same metastore).
        io_properties: FileIO properties for listing and reading the source files (s3.* …);
            the target catalog's properties are used when None.
        threads: parallel footer reads and listings.
        Other arguments: see `CatalogMigration`.
    """

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
                hint="use mode='snapshot' to create the Iceberg table under another name",
            )

    # -- what each metastore provides -----------------------------------------------------------

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

    # -- CatalogMigration -----------------------------------------------------------------------

    def source_name(self, ident: TableIdentifier) -> str:
        """How the target's ``phlo.migration.source`` property names ``ident``."""
        return f"{self.kind}:{ident}"

    def discover_tables(self, selectors: Sequence[str] = ("*.*",)) -> list[TableIdentifier]:
        parsed = [TableSelector.parse(s) for s in selectors]
        every = self._source_tables()
        wildcard = [t for t, parameters in every.items() if self._candidate(t, parameters)]
        # A run killed between backup and publish left the name free: resume under it.
        for parameters in every.values():
            original = parameters.get(BACKUP_OF_PARAMETER)
            if original and parse_table_identifier(original) not in every:
                wildcard.append(parse_table_identifier(original))
        found = set(select_tables([s for s in parsed if not s.is_literal], wildcard))
        known = set(every) | set(wildcard)
        for literal in (s for s in parsed if s.is_literal):
            ident = parse_table_identifier(literal.pattern)
            if ident not in known:
                raise self._not_found(ident)
            found.add(ident)
        return sorted(found)

    def _candidate(self, ident: TableIdentifier, parameters: Mapping[str, str]) -> bool:
        """Whether a wildcard selects ``ident``: not a staging table or backup, and not an
        Iceberg table a snapshot made from another table (a migrated table is kept: re-runs
        report it as skipped)."""
        if ident.name.endswith((STAGING_SUFFIX, BACKUP_SUFFIX)):
            return False
        made_from = parameters.get(SOURCE_PROPERTY)
        return made_from is None or made_from == self.source_name(ident)

    def plan(self, source: str | TableIdentifier) -> OperationPlan:
        ident = parse_table_identifier(source)
        target = self.target_identifier(ident)
        staging = TableIdentifier(target.namespace, target.name + STAGING_SUFFIX)
        table = self._describe(ident)
        if self.mode == "migrate":
            return self._plan_migrate(ident, table, staging)
        return self._plan_snapshot(ident, target, table, staging)

    def execute_plan(self, plan: OperationPlan) -> OperationResult:
        details = plan.details
        source = parse_table_identifier(details["source"])
        target = parse_table_identifier(details["target"])
        staging = parse_table_identifier(details["staging"])
        catalog = self.target.catalog()
        if details["action"] == "resume":
            catalog.rename_table(staging.as_tuple(), target.as_tuple())
            return self._result(plan, committed=True)
        table = self._describe(source)
        if table is None or table.is_iceberg:
            raise Conflict(
                f"{self.kind} table {source} changed since it was planned",
                hint="re-run the migration; it plans again",
            )
        schema, spec = self._schema_and_spec(table)
        files = [SourceFile.from_json(f) for f in details["files"]]
        imported = build_data_files(
            self._io(),
            schema,
            spec,
            files,
            properties=self._properties(source, table),
            threads=self.threads,
        )
        if details.get("stale_staging"):
            drop_staging(catalog, staging)
        catalog.create_namespace_if_not_exists(target.namespace)
        staged = self._stage(catalog, staging, target, table, schema, spec, imported)
        report = None
        if self.validate:
            report = self._compare(table, schema, staged)
            if not report.passed:
                from phlo_lakehouse.migration.validation import ValidationFailed

                drop_staging(catalog, staging)
                raise ValidationFailed(report)
        if self.mode == "migrate":
            self._backup(table, _backup_name(source))
        catalog.rename_table(staging.as_tuple(), target.as_tuple())
        return self._result(
            plan,
            committed=True,
            records=imported.records,
            snapshot_id=staged.metadata.current_snapshot_id,
            validation=report.to_dict() if report else None,
        )

    def validate_migration(
        self, source: str | TableIdentifier, *, sample_files: int | None = None
    ) -> ValidationReport:
        """Compare the migrated table with its source (in ``migrate`` mode: the backup).

        Raises:
            TableNotFound: the source or the migrated table does not exist.
        """
        ident = parse_table_identifier(source)
        target = self.target_identifier(ident)
        origin = _backup_name(ident) if self.mode == "migrate" else ident
        table = self._describe(origin)
        if table is None or table.is_iceberg:
            raise self._not_found(origin)
        migrated = load_iceberg_table(self.target.catalog(), target)
        if migrated is None:
            raise TableNotFound(
                f"migrated table {target} does not exist", hint=f"migrate {ident} first"
            )
        schema, _ = self._schema_and_spec(table)
        return self._compare(table, schema, migrated, sample_files=sample_files)

    # -- planning -------------------------------------------------------------------------------

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
                hint="set suffix (e.g. '_iceberg') or namespace, or use mode='migrate'",
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
                if not _namespace_exists(catalog, target)
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
        backup = _backup_name(ident)
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

    # -- staging and validation -----------------------------------------------------------------

    def _schema_and_spec(self, table: ExternalTable) -> tuple[Schema, PartitionSpec]:
        return iceberg_schema_and_spec(table, self.kind)

    def _properties(self, source: TableIdentifier, table: ExternalTable) -> dict[str, str]:
        properties = {SOURCE_PROPERTY: self.source_name(source), MODE_PROPERTY: self.mode}
        if self.mode == "snapshot":
            properties["gc.enabled"] = "false"
        else:
            root = table.location.rstrip("/")
            properties[BACKUP_PROPERTY] = str(_backup_name(source))
            properties["write.metadata.path"] = f"{root}/{ICEBERG_SUBDIR}/metadata"
            properties["write.data.path"] = f"{root}/{ICEBERG_SUBDIR}/data"
        return properties

    def _stage(
        self,
        catalog: Catalog,
        staging: TableIdentifier,
        target: TableIdentifier,
        table: ExternalTable,
        schema: Schema,
        spec: PartitionSpec,
        imported: ParquetImport,
    ) -> Table:
        """Create the staging table with every file in one commit."""
        if self.mode == "migrate":
            location: str | None = table.location.rstrip("/")
        else:
            location = default_location(catalog, target)  # the table keeps it after the rename
        return create_staged_table(
            catalog,
            staging,
            location=location,
            schema=schema,
            spec=spec,
            properties=self._properties(table.identifier, table),
            imported=imported,
        )

    def _compare(
        self,
        table: ExternalTable,
        schema: Schema,
        migrated: Table,
        *,
        sample_files: int | None = None,
    ) -> ValidationReport:
        from phlo_lakehouse.migration.validation import (
            ExternalTableView,
            IcebergTableView,
            compare_tables,
        )

        files = list_source_files(self._io(), table.storage_units, threads=self.threads)
        source = ExternalTableView(
            self._io(), schema, [name for name, _ in table.partition_keys], files
        )
        return compare_tables(
            source,
            IcebergTableView(migrated),
            sample_files=self.sample_files if sample_files is None else sample_files,
            source_name=self.source_name(table.identifier),
            target_name=".".join(migrated.name()),
        )

    def _result(self, plan: OperationPlan, *, committed: bool, **extra: Any) -> OperationResult:
        snapshot_id = extra.pop("snapshot_id", None)
        records = extra.pop("records", None)
        return OperationResult(
            operation=plan.operation,
            table=plan.table,
            ref=plan.ref,
            dry_run=False,
            committed=committed,
            snapshot_id_before=None,
            snapshot_id_after=snapshot_id,
            figures={**plan.figures, "records": records},
            plan=plan,
            details={**{k: v for k, v in plan.details.items() if k != "files"}, **extra},
        )

    def _io(self) -> FileIO:
        from pyiceberg.io.pyarrow import PyArrowFileIO

        return PyArrowFileIO(dict(self.io_properties))

    def _same_catalog(self) -> bool:
        """True when the target catalog is the source metastore itself."""
        return False


def _namespace_exists(catalog: Catalog, ident: TableIdentifier) -> bool:
    return catalog.namespace_exists(ident.namespace)


def _backup_name(ident: TableIdentifier) -> TableIdentifier:
    return TableIdentifier(ident.namespace, ident.name + BACKUP_SUFFIX)
