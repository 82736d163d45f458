"""`IcebergCatalogMigration`: move Iceberg tables between catalogs (SQL, Nessie, REST, Glue, Hive)
by registering their current metadata file in the target; no data or metadata file is copied.

A table registered in two catalogs has two writers that diverge at the next commit, so the
migration refuses to leave one behind: it only moves (``drop_source=True``), dropping the source
entry without purging once the target has the table and validation passed. Steps per table,
each safe to re-run:

1. plan (read only): load the source, check the target name;
2. register ``metadata_location`` under the target name (namespace created if missing);
3. validate target against source (same metadata file, schema, files, rows, checksums); on
   failure the registration is dropped again and the source is untouched;
4. drop the source entry (files kept). A run interrupted before this step is finished by the
   next run (plan action ``resume``); a table already in the target with the same metadata file
   and gone from the source is reported as skipped.

Example:
    >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    >>> sql = IcebergLakehouse(CatalogSettings.embedded(".lakehouse"))
    >>> nessie = IcebergLakehouse(CatalogSettings(type="nessie", uri="http://127.0.0.1:19120"))
    >>> move = IcebergCatalogMigration(sql, nessie, drop_source=True)
    >>> print(move.run(["raw.*"], dry_run=True).summary())                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import Conflict, InvalidInput, TableNotFound
from phlo_lakehouse.identifiers import (
    TableIdentifier,
    TableSelector,
    parse_table_identifier,
    select_tables,
)
from phlo_lakehouse.migration.base import CatalogMigration, load_iceberg_table
from phlo_lakehouse.operations.base import OperationPlan, OperationResult
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.migration.validation import ValidationReport


class IcebergCatalogMigration(CatalogMigration):
    """Iceberg tables of ``source`` moved into ``target`` by metadata registration.

    Args:
        source: the lakehouse the tables are in now.
        target: the lakehouse they move to.
        drop_source: required to migrate: drop each table from the source once registered and
            validated (its files are kept). Without it, plans fail with a hint.
        **options: namespace, suffix, validate, sample_files, hooks, principal (see
            `CatalogMigration`).
    """

    kind = "iceberg"

    def __init__(
        self,
        source: IcebergLakehouse,
        target: IcebergLakehouse,
        *,
        drop_source: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(target, mode="move" if drop_source else "register", **options)
        self.source = source
        self.drop_source = drop_source

    @classmethod
    def modes(cls) -> tuple[str, ...]:
        return ("register", "move")

    def discover_tables(self, selectors: Sequence[str] = ("*.*",)) -> list[TableIdentifier]:
        parsed = [TableSelector.parse(s) for s in selectors]
        every = self.source.list_tables()
        found = set(select_tables([s for s in parsed if not s.is_literal], every))
        for literal in (s for s in parsed if s.is_literal):
            ident = parse_table_identifier(literal.pattern)
            found.add(ident)  # plan() reports a missing one, naming where it may have gone
        return sorted(found)

    def plan(self, source: str | TableIdentifier) -> OperationPlan:
        ident = parse_table_identifier(source)
        target = self.target_identifier(ident)
        target_catalog = self.target.catalog()
        table = load_iceberg_table(self.source.catalog(), ident)
        existing = load_iceberg_table(target_catalog, target)
        if table is None:
            if existing is not None:
                reason = f"already moved: {ident} is gone from the source, {target} exists"
                return self._plan(
                    ident, target, "skip", [f"nothing to do: {reason}"], reason=reason
                )
            raise TableNotFound(
                f"table {ident} does not exist in the {self.source.settings.describe()}",
                hint="check the name; discover_tables(['ns.*']) lists the source tables",
            )
        if self._same_place(ident, target):
            raise InvalidInput(
                f"source and target of {ident} are the same table of the same catalog",
                hint="choose another target catalog, namespace or suffix",
            )
        location = table.metadata_location
        figures = _figures(table)
        if existing is not None:
            return self._plan_existing(ident, target, table, existing, figures)
        if not self.drop_source:
            raise InvalidInput(
                f"registering {ident} in the {self.target.settings.describe()} would leave it "
                "in two catalogs, whose writers diverge at the next commit",
                hint=Phrase(
                    "pass {} to move it: the source entry is dropped once the "
                    "target has it, and no file is deleted",
                    Arg("drop_source", True),
                ),
            )
        steps = [
            *(
                [f"create namespace {'.'.join(target.namespace)}"]
                if not target_catalog.namespace_exists(target.namespace)
                else []
            ),
            f"register {target} with its current metadata {location} (no file copied)",
            *([f"validate {target} against {ident}"] if self.validate else []),
            f"drop {ident} from the {self.source.settings.describe()} (files kept)",
        ]
        return self._plan(
            ident,
            target,
            "register",
            steps,
            figures,
            snapshot_id=table.metadata.current_snapshot_id,
            metadata_location=location,
        )

    def _plan_existing(
        self,
        ident: TableIdentifier,
        target: TableIdentifier,
        table: Table,
        existing: Table,
        figures: dict[str, Any],
    ) -> OperationPlan:
        if existing.metadata_location == table.metadata_location:
            if not self.drop_source:
                reason = f"{target} is already registered with the same metadata"
                return self._plan(
                    ident, target, "skip", [f"nothing to do: {reason}"], reason=reason
                )
            steps = [f"drop {ident} from the source (finishing an interrupted move; files kept)"]
            return self._plan(
                ident,
                target,
                "resume",
                steps,
                figures,
                snapshot_id=table.metadata.current_snapshot_id,
                metadata_location=table.metadata_location,
            )
        same_table = existing.metadata.table_uuid == table.metadata.table_uuid
        raise Conflict(
            f"target {target} exists"
            + (" and has diverged from the source since it was registered" if same_table else ""),
            hint="compare both and drop the stale one, or choose another namespace or suffix",
        )

    def execute_plan(self, plan: OperationPlan) -> OperationResult:
        details = plan.details
        ident = parse_table_identifier(details["source"])
        target = parse_table_identifier(details["target"])
        location = details["metadata_location"]
        report = None
        if details["action"] == "register":
            catalog = self.target.catalog()
            catalog.create_namespace_if_not_exists(target.namespace)
            registered = catalog.register_table(target.as_tuple(), location)
            if self.validate:
                report = self._compare(ident, registered)
                if not report.passed:
                    from phlo_lakehouse.errors import ValidationFailed

                    catalog.drop_table(target.as_tuple())
                    raise ValidationFailed(report)
        current = load_iceberg_table(self.source.catalog(), ident)
        if current is not None:
            if current.metadata_location != location:
                self.target.catalog().drop_table(target.as_tuple())
                raise Conflict(
                    f"{ident} was committed to in the source during the move",
                    hint="re-run the migration: it registers the new metadata",
                )
            _drop_source_table(self.source, ident)
        return OperationResult.applied(
            plan, details={**plan.details, "validation": report.to_dict() if report else None}
        )

    def validate_migration(
        self, source: str | TableIdentifier, *, sample_files: int | None = None
    ) -> ValidationReport:
        """Compare the registered table with the source (while the source still has it).

        Raises:
            TableNotFound: either side is missing (after a move the source is gone: the
                validation ran before the drop and is in the migration result).
        """
        ident = parse_table_identifier(source)
        target = self.target_identifier(ident)
        registered = load_iceberg_table(self.target.catalog(), target)
        if registered is None:
            raise TableNotFound(
                f"{target} is not in the target catalog", hint=f"migrate {ident} first"
            )
        if load_iceberg_table(self.source.catalog(), ident) is None:
            raise TableNotFound(
                f"{ident} is no longer in the source catalog",
                hint="a move validates before it drops the source: see the migration result",
            )
        return self._compare(ident, registered, sample_files)

    def _compare(
        self, ident: TableIdentifier, registered: Table, sample_files: int | None = None
    ) -> ValidationReport:
        from phlo_lakehouse.migration.validation import (
            IcebergTableView,
            ValidationCheck,
            ValidationReport,
            compare_tables,
        )

        table = load_iceberg_table(self.source.catalog(), ident)
        assert table is not None
        report = compare_tables(
            IcebergTableView(table),
            IcebergTableView(registered),
            sample_files=self.sample_files if sample_files is None else sample_files,
            source_name=f"{self.source.settings.name}:{ident}",
            target_name=f"{self.target.settings.name}:{'.'.join(registered.name())}",
        )
        same = table.metadata_location == registered.metadata_location
        check = ValidationCheck(
            "metadata_location",
            same,
            table.metadata_location,
            registered.metadata_location,
            "" if same else "the target points at another metadata file",
        )
        return ValidationReport(report.source, report.target, (check, *report.checks))

    def _same_place(self, ident: TableIdentifier, target: TableIdentifier) -> bool:
        return ident == target and self.source.settings == self.target.settings


def _figures(table: Table) -> dict[str, Any]:
    snapshot = table.current_snapshot()
    summary = snapshot.summary if snapshot is not None and snapshot.summary else None

    def _int(key: str) -> int | None:
        value = summary.get(key) if summary is not None else None
        return int(value) if value is not None else (0 if snapshot is None else None)

    return {
        "data_files": _int("total-data-files"),
        "bytes": _int("total-files-size"),
        "records": _int("total-records"),
    }


def _drop_source_table(source: IcebergLakehouse, ident: TableIdentifier) -> None:
    """Drop ``ident`` from the source catalog without purging (PyIceberg's drop_table never
    deletes files; REST catalogs are asked not to purge)."""
    source.catalog().drop_table(ident.as_tuple())
