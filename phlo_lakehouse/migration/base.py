"""`CatalogMigration`: discover source tables, plan each one (a pure read), migrate it through the
one executor (access check, tracing, audit, metrics), validate it; with a result per table and a
summary per run.

Migrating one table is a `MigrateTableOperation`: a `CatalogOperation` named ``migrate``
(permission ``migrate``) whose subject is the target table, so the executor checks and audits
it on ``<catalog>.<namespace>.<table>`` although the table does not exist yet. Its plan and
result are the executor's own `OperationPlan` and `OperationResult`; `migrate_table` runs it with
``OperationExecutor.run_catalog`` on the target's default ref (a dry run plans only; a ``skip``
plan executes nothing; a `Conflict` while executing re-plans, as for every operation).

Every plan's ``details`` say what would happen: ``action`` (``create``, ``replace``,
``register``, ``resume`` or ``skip``), ``steps`` (one line each: created, registered, renamed,
dropped …), ``source``, ``target`` and ``mode``.

Example:
    >>> migration = HiveMigration(lakehouse, metastore_uri="thrift://hms:9083")  # doctest: +SKIP
    >>> print(migration.run(["sales.*"], dry_run=True).summary())  # doctest: +SKIP
    sales.orders -> sales.orders: planned (create) data_files=12, bytes=48213, partitions=3
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import Conflict, InvalidInput, LakehouseError
from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier
from phlo_lakehouse.migration.results import (
    FIGURES,
    MigrationSummary,
    TableMigrationResult,
    table_result,
)
from phlo_lakehouse.operations.base import (
    CatalogOperation,
    CatalogTarget,
    Figure,
    OperationPlan,
    OperationResult,
)
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.migration.validation import ValidationReport
    from phlo_lakehouse.operations.executor import ExecutionHook

MODES = ("snapshot", "migrate")
#: Table properties a migration sets on the Iceberg tables it creates (how re-runs recognise them).
SOURCE_PROPERTY = "phlo.migration.source"
MODE_PROPERTY = "phlo.migration.mode"
BACKUP_PROPERTY = "phlo.migration.backup"
#: Staging tables are created under ``<name>_phlo_staging_`` and renamed once validated.
STAGING_SUFFIX = "_phlo_staging_"
#: In ``migrate`` mode the source table is kept as ``<name>_backup_`` (as Iceberg's procedure).
BACKUP_SUFFIX = "_backup_"
ACTIONS = ("create", "replace", "register", "resume", "skip")


class MigrateTableOperation(CatalogOperation):
    """Migrating one source table into the target lakehouse (permission ``migrate`` on the
    target table).

    Example:
        >>> MigrateTableOperation.name, MigrateTableOperation.permission
        ('migrate', 'migrate')
    """

    name: ClassVar[str] = "migrate"
    permission: ClassVar[str] = "migrate"

    def __init__(self, migration: CatalogMigration, source: TableIdentifier) -> None:
        self.migration = migration
        self.source = source

    def subject(self, target: CatalogTarget) -> TableIdentifier:
        """The table the migration creates (what access checks and audit records name)."""
        return self.migration.target_identifier(self.source)

    def plan(self, target: CatalogTarget) -> OperationPlan:
        """The migration's plan for the source table (the target need not exist)."""
        return self.migration.plan(self.source)

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        """Carry out ``plan`` (nothing for a ``skip`` plan)."""
        if plan.details.get("action") == "skip":
            return replace(OperationResult.from_plan(plan), dry_run=False)
        return self.migration.execute_plan(plan)

    def settings(self) -> dict[str, Any]:
        """Kind, mode and source, for audit records."""
        return {
            "kind": self.migration.kind,
            "mode": self.migration.mode,
            "source": str(self.source),
        }


class CatalogMigration(ABC):
    """Moves tables from a source into the ``target`` lakehouse.

    Args:
        target: the lakehouse the Iceberg tables end up in.
        mode: ``snapshot`` (new table, source untouched) or ``migrate`` (the Iceberg table takes
            the source's name; what that means for the source depends on the kind).
        namespace: put every target table in this namespace instead of the source's.
        suffix: append this to every target table name (e.g. ``_iceberg``).
        validate: validate each table before it is published (and fail it if that fails).
        sample_files: files whose rows the validation checksums, per table.
        hooks: execution hooks (default: the target lakehouse's hooks).
        principal: who is migrating (default: as the executor resolves it).

    Example:
        >>> migration = IcebergCatalogMigration(sql, nessie, drop_source=True)  # doctest: +SKIP
        >>> [str(t) for t in migration.discover_tables(["raw.*"])]           # doctest: +SKIP
        ['raw.events']
        >>> migration.plan("raw.events").details["steps"]                    # doctest: +SKIP
        ['register raw.events with its current metadata …', …]
        >>> migration.migrate_table("raw.events").status                     # doctest: +SKIP
        'migrated'
        >>> migration.validate_migration("raw.orders").passed                # doctest: +SKIP
        True
    """

    kind: ClassVar[str]

    def __init__(
        self,
        target: IcebergLakehouse,
        *,
        mode: str = "snapshot",
        namespace: str | None = None,
        suffix: str = "",
        validate: bool = True,
        sample_files: int = 3,
        hooks: Sequence[ExecutionHook] | None = None,
        principal: str | None = None,
    ) -> None:
        if mode not in self.modes():
            raise InvalidInput(
                f"migration mode {mode!r} is not supported by {self.kind} migrations",
                hint=f"use one of {', '.join(self.modes())}",
            )
        if namespace is not None:
            from phlo_lakehouse.identifiers import parse_namespace

            namespace = ".".join(parse_namespace(namespace))
        if suffix and not suffix.replace("_", "").isalnum():
            raise InvalidInput(
                f"table suffix {suffix!r} is not valid", hint="use letters, digits and _"
            )
        if sample_files < 0:
            raise InvalidInput(
                "sample_files must be 0 or more", hint=Phrase("e.g. {}", Arg("sample_files", 3))
            )
        self.target = target
        self.mode = mode
        self.namespace = namespace
        self.suffix = suffix
        self.validate = validate
        self.sample_files = sample_files
        self.hooks = list(hooks if hooks is not None else getattr(target, "hooks", []))
        self.principal = principal

    @classmethod
    def modes(cls) -> tuple[str, ...]:
        """The modes this kind of migration supports."""
        return MODES

    # -- what subclasses provide ----------------------------------------------------------------

    @abstractmethod
    def discover_tables(self, selectors: Sequence[str] = ("*.*",)) -> list[TableIdentifier]:
        """Source tables matching ``selectors`` (literal names must exist), sorted."""

    @abstractmethod
    def plan(self, source: str | TableIdentifier) -> OperationPlan:
        """What migrating ``source`` would do; reads only. Bad input raises here.

        Raises:
            TableNotFound: no such source table.
            InvalidInput: unsupported format or a schema the target cannot hold.
            Conflict: the target name is taken by something this migration did not create.
        """

    @abstractmethod
    def execute_plan(self, plan: OperationPlan) -> OperationResult:
        """Carry ``plan`` out (re-runnable: an interrupted run is resumed or redone)."""

    @abstractmethod
    def validate_migration(
        self, source: str | TableIdentifier, *, sample_files: int | None = None
    ) -> ValidationReport:
        """Compare a migrated table with its source: rows, schema, files, sampled checksums."""

    # -- shared behaviour -----------------------------------------------------------------------

    def target_identifier(self, source: str | TableIdentifier) -> TableIdentifier:
        """Where ``source`` goes: same name, or the configured namespace and suffix.

        Example:
            >>> m = IcebergCatalogMigration(a, b, namespace="bronze", suffix="_v2")  # doctest:+SKIP
            >>> str(m.target_identifier("raw.events"))  # doctest: +SKIP
            'bronze.events_v2'
        """
        ident = parse_table_identifier(source)
        namespace = tuple(self.namespace.split(".")) if self.namespace else ident.namespace
        return TableIdentifier(namespace, ident.name + self.suffix)

    def migrate_table(
        self, source: str | TableIdentifier, *, dry_run: bool = False
    ) -> TableMigrationResult:
        """Plan and (unless ``dry_run``) migrate one table through the hooks.

        Raises:
            LakehouseError: bad input, access denied, conflict, or a failed validation (the
                source is then left as it was).
        """
        from phlo_lakehouse.operations.executor import OperationExecutor

        ident = parse_table_identifier(source)
        executor = OperationExecutor(self.target, self.hooks)
        result = executor.run_catalog(
            MigrateTableOperation(self, ident),
            self.target.settings.default_ref,
            dry_run=dry_run,
            principal=self.principal,
        )
        return table_result(result)

    def run(
        self,
        selectors: Sequence[str] = ("*.*",),
        *,
        dry_run: bool = False,
        stop_on_error: bool = False,
    ) -> MigrationSummary:
        """Migrate every table matching ``selectors``; a failing table does not stop the others
        (unless ``stop_on_error``).

        Example:
            >>> summary = migration.run(["raw.*"], dry_run=True)       # doctest: +SKIP
            >>> summary.figures["planned"]                             # doctest: +SKIP
            4
        """
        started = time.perf_counter()
        results: list[TableMigrationResult] = []
        for source in self.discover_tables(selectors):
            try:
                results.append(self.migrate_table(source, dry_run=dry_run))
            except LakehouseError as error:
                target = str(self.target_identifier(source))
                results.append(TableMigrationResult.failed(str(source), target, error))
                if stop_on_error:
                    break
        return MigrationSummary(
            kind=self.kind,
            mode=self.mode,
            dry_run=dry_run,
            tables=tuple(results),
            duration_seconds=time.perf_counter() - started,
        )

    def _plan(
        self,
        source: TableIdentifier,
        target: TableIdentifier,
        action: str,
        steps: Sequence[str],
        figures: Mapping[str, Figure] | None = None,
        *,
        snapshot_id: int | None = None,
        **details: Any,
    ) -> OperationPlan:
        """An `OperationPlan` in the shape every migration plan has."""
        assert action in ACTIONS, action
        return OperationPlan(
            operation="migrate",
            table=str(target),
            ref=self.target.settings.default_ref,
            snapshot_id=snapshot_id,
            figures={k: (figures or {}).get(k) for k in FIGURES},
            details={
                "kind": self.kind,
                "mode": self.mode,
                "source": str(source),
                "target": str(target),
                "action": action,
                "steps": list(steps),
                **details,
            },
        )


def load_iceberg_table(catalog: Catalog, ident: TableIdentifier) -> Table | None:
    """The Iceberg table ``ident`` of ``catalog``, or None.

    Raises:
        Conflict: a table of that name exists and is not an Iceberg table.
    """
    from pyiceberg.exceptions import (
        NoSuchIcebergTableError,
        NoSuchNamespaceError,
        NoSuchPropertyException,
        NoSuchTableError,
    )

    try:
        return catalog.load_table(ident.as_tuple())
    except NoSuchIcebergTableError as e:  # before NoSuchTableError: it is a subclass there
        raise _not_iceberg(ident) from e
    except (NoSuchTableError, NoSuchNamespaceError):
        return None
    except NoSuchPropertyException as e:
        raise _not_iceberg(ident) from e


def _not_iceberg(ident: TableIdentifier) -> Conflict:
    return Conflict(
        f"{ident} exists in the target catalog and is not an Iceberg table",
        hint="choose another namespace or suffix for the migrated table",
    )
