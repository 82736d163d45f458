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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import Conflict, TableNotFound
from phlo_lakehouse.identifiers import (
    TableIdentifier,
    TableSelector,
    parse_table_identifier,
    select_tables,
)
from phlo_lakehouse.migration.base import (
    BACKUP_SUFFIX,
    SOURCE_PROPERTY,
    STAGING_SUFFIX,
    load_iceberg_table,
)
from phlo_lakehouse.migration.datafiles import (
    ParquetImport,
    SourceFile,
    build_data_files,
    list_source_files,
)
from phlo_lakehouse.migration.external_plans import ExternalTablePlanning, backup_name
from phlo_lakehouse.migration.metastore import (
    BACKUP_OF_PARAMETER,
    ExternalTable,
)
from phlo_lakehouse.migration.staging import create_staged_table, default_location, drop_staging
from phlo_lakehouse.operations.base import OperationPlan, OperationResult

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

    from phlo_lakehouse.migration.validation import ValidationReport


class ExternalTableMigration(ExternalTablePlanning):
    """Parquet tables of a metastore (Hive, Glue) to Iceberg tables over the same files.

    Args: see `ExternalTablePlanning` (the planning half, whose constructor this one is).
    """

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
                from phlo_lakehouse.errors import ValidationFailed

                drop_staging(catalog, staging)
                raise ValidationFailed(report)
        if self.mode == "migrate":
            self._backup(table, backup_name(source))
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
        origin = backup_name(ident) if self.mode == "migrate" else ident
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

    # -- staging and validation -----------------------------------------------------------------

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
        # The plan has no snapshot (the source is no Iceberg table), so neither has "before".
        return OperationResult.applied(
            plan,
            committed=committed,
            snapshot_id_after=snapshot_id,
            figures={**plan.figures, "records": records},
            details={**{k: v for k, v in plan.details.items() if k != "files"}, **extra},
        )
