"""`Lakehouse`, the abstract table-access interface, and `IcebergLakehouse`, its Iceberg
implementation over any catalog `CatalogSettings` can describe.

Construction never connects: the catalog is opened on first use, so Dagster definitions and
``import phlo_lakehouse`` do no I/O.

Example:
    >>> from phlo_lakehouse import IcebergLakehouse, CatalogSettings
    >>> lh = IcebergLakehouse(CatalogSettings.embedded("/tmp/phlo-doc"))
    >>> lh.list_tables()                                  # doctest: +SKIP
    []
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.catalogs import build_catalog, catalog_errors, load_table
from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.errors import InvalidConfig, NamespaceNotFound, RefNotFound, TableNotFound
from phlo_lakehouse.identifiers import (
    TableIdentifier,
    TableSelector,
    parse_namespace,
    parse_table_identifier,
    select_tables,
    validate_ref_name,
)
from phlo_lakehouse.table import MAIN, LakehouseTable
from phlo_lakehouse.vocabulary import Phrase, Words

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from phlo_lakehouse.metadata import TableMetadata
    from phlo_lakehouse.nessie import NessieReferences
    from phlo_lakehouse.operations.base import (
        CatalogOperation,
        Engine,
        OperationResult,
        TableOperation,
    )
    from phlo_lakehouse.operations.executor import ExecutionHook, OperationExecutor


class Lakehouse(ABC):
    """Table access every lakehouse implementation offers.

    Example:
        >>> issubclass(IcebergLakehouse, Lakehouse)
        True
    """

    settings: CatalogSettings  #: the catalog this lakehouse reads

    @property
    @abstractmethod
    def is_nessie(self) -> bool:
        """True when refs are catalog-wide Nessie references."""

    @property
    @abstractmethod
    def nessie(self) -> NessieReferences:
        """The Nessie reference client (Nessie catalogs only)."""

    @abstractmethod
    def catalog(self, ref: str | None = None) -> Catalog:
        """The PyIceberg catalog (for Nessie: the one serving ``ref``)."""

    @abstractmethod
    def get_table(self, name: str | TableIdentifier, ref: str | None = None) -> LakehouseTable:
        """Load table ``name`` as of ``ref`` (default: the configured default ref, ``main``)."""

    @abstractmethod
    def list_tables(
        self, namespace: str | Sequence[str] | None = None, ref: str | None = None
    ) -> list[TableIdentifier]:
        """Tables in ``namespace`` (every namespace when None), sorted."""

    @abstractmethod
    def list_namespaces(self, ref: str | None = None) -> list[tuple[str, ...]]:
        """Every namespace, nested levels included, sorted."""

    def table_exists(self, name: str | TableIdentifier, ref: str | None = None) -> bool:
        """True when ``name`` exists on ``ref``; malformed names still raise."""
        try:
            self.get_table(name, ref)
        except (TableNotFound, NamespaceNotFound):
            return False
        return True

    def resolve_tables(
        self, selectors: Sequence[str | TableSelector], ref: str | None = None
    ) -> list[TableIdentifier]:
        """Tables matching selectors such as ``raw.*``; literal names must exist.

        Raises:
            TableNotFound: a literal selector names a table that does not exist.
        """
        parsed = [s if isinstance(s, TableSelector) else TableSelector.parse(s) for s in selectors]
        namespaces = {s.namespace_prefix for s in parsed if not s.is_literal}
        found: set[TableIdentifier] = set()
        for prefix in namespaces:
            if prefix == ():
                found.update(self.list_tables(None, ref))
                break
            found.update(
                t for t in self.list_tables(None, ref) if t.namespace[: len(prefix)] == prefix
            )
        for literal in (s for s in parsed if s.is_literal):
            ident = parse_table_identifier(literal.pattern)
            if not self.table_exists(ident, ref):
                raise TableNotFound(
                    f"table {ident} does not exist",
                    hint="list tables with `phlo-lakehouse tables list`",
                )
            found.add(ident)
        return select_tables(parsed, found)

    def collect_stats(
        self, name: str | TableIdentifier, ref: str | None = None, *, full: bool = False
    ) -> TableMetadata:
        """Table statistics for ``name`` on ``ref`` (fast path unless ``full``)."""
        from phlo_lakehouse.metadata import MetadataCollector

        return MetadataCollector(full=full).collect(self.get_table(name, ref))

    # -- operations: every one runs through the single executor ---------------------------------

    #: Hooks (access control, tracing, audit) every operation of this lakehouse runs through.
    hooks: list[ExecutionHook]

    def executor(self, engine: Engine | None = None) -> OperationExecutor:
        """The executor every operation of this lakehouse runs through (with its hooks), executing
        on ``engine`` (default: this lakehouse's `engine`, else the local engine)."""
        from phlo_lakehouse.operations.executor import OperationExecutor

        return OperationExecutor(
            self, getattr(self, "hooks", []), engine=engine or getattr(self, "engine", None)
        )

    def run(
        self,
        operation: TableOperation,
        name: str | TableIdentifier,
        ref: str | None = None,
        *,
        dry_run: bool = False,
        principal: str | None = None,
        engine: Engine | None = None,
    ) -> OperationResult:
        """Run ``operation`` on table ``name`` through the executor (plan, checks, commit, audit).

        Example:
            >>> from phlo_lakehouse.operations import VacuumOperation
            >>> lakehouse.run(VacuumOperation(), "demo.events", dry_run=True)  # doctest: +SKIP
        """
        return self.executor(engine).run(operation, name, ref, dry_run=dry_run, principal=principal)

    def run_catalog(
        self,
        operation: CatalogOperation,
        ref: str | None = None,
        *,
        dry_run: bool = False,
        principal: str | None = None,
    ) -> OperationResult:
        """Run a catalog-level ``operation`` (Nessie reference change, publish, GC, migration)
        on reference ``ref`` (None: the whole catalog) through the same executor and hooks.

        Example:
            >>> from phlo_lakehouse.operations import MergeReference
            >>> lakehouse.run_catalog(MergeReference("dev"), "main", dry_run=True)  # doctest: +SKIP
        """
        return self.executor().run_catalog(operation, ref, dry_run=dry_run, principal=principal)

    def optimize_table(
        self, name: str | TableIdentifier, ref: str | None = None, **kwargs: Any
    ) -> OperationResult:
        """Compact ``name``; ``dry_run``/``principal`` as for `run`, other keyword arguments go
        to `OptimizeOperation`."""
        return run_kind(self.run, "optimize", name, ref, kwargs)

    def expire_snapshots(
        self, name: str | TableIdentifier, ref: str | None = None, **kwargs: Any
    ) -> OperationResult:
        """Expire old snapshots of ``name``; ``dry_run``/``principal`` as for `run`, other
        keyword arguments go to `ExpireSnapshotsOperation`."""
        return run_kind(self.run, "expire", name, ref, kwargs)

    def vacuum(
        self, name: str | TableIdentifier, ref: str | None = None, **kwargs: Any
    ) -> OperationResult:
        """Delete orphan files of ``name``; ``dry_run``/``principal`` as for `run`, other
        keyword arguments go to `VacuumOperation`."""
        return run_kind(self.run, "vacuum", name, ref, kwargs)

    def rewrite_manifests(
        self, name: str | TableIdentifier, ref: str | None = None, **kwargs: Any
    ) -> OperationResult:
        """Cluster the manifests of ``name``; ``dry_run``/``principal`` as for `run`, other
        keyword arguments go to `RewriteManifestsOperation`."""
        return run_kind(self.run, "rewrite_manifests", name, ref, kwargs)


def run_kind(
    run: Callable[..., OperationResult],
    kind: str,
    name: str | TableIdentifier,
    ref: str | None,
    kwargs: dict[str, Any],
) -> OperationResult:
    """Call ``run`` (a `Lakehouse.run`) with the operation ``kind`` built from ``kwargs``; their
    ``dry_run`` and ``principal`` go to ``run`` instead."""
    from phlo_lakehouse.operations import operation_for

    dry_run = bool(kwargs.pop("dry_run", False))
    principal = kwargs.pop("principal", None)
    return run(operation_for(kind, **kwargs), name, ref, dry_run=dry_run, principal=principal)


class IcebergLakehouse(Lakehouse):
    """Iceberg tables in one catalog (SQL, REST, Nessie, Glue or Hive).

    Args:
        settings: the catalog to use; default: `CatalogSettings.from_env()`.
        catalog: an already-built PyIceberg catalog to use instead (not Nessie-ref aware).
        hooks: execution hooks (access control, tracing, audit) for every operation.

    Example:
        >>> lh = IcebergLakehouse(CatalogSettings.embedded("/tmp/phlo-doc"))
        >>> lh.settings.type
        'sql'
    """

    def __init__(
        self,
        settings: CatalogSettings | None = None,
        *,
        catalog: Catalog | None = None,
        hooks: Sequence[ExecutionHook] = (),
    ) -> None:
        self.settings = settings if settings is not None else CatalogSettings.from_env()
        self.hooks = list(hooks)
        #: The engine operations execute on when a call names none (None: local).
        self.engine: Engine | None = None
        self._catalogs: dict[str, Catalog] = {}
        self._given_catalog = catalog
        self._lock = threading.Lock()
        self._nessie_refs: NessieReferences | None = None

    @classmethod
    def from_env(cls) -> IcebergLakehouse:
        """An `IcebergLakehouse` configured from the environment (no connection yet)."""
        return cls(CatalogSettings.from_env())

    @property
    def is_nessie(self) -> bool:
        return self.settings.type == "nessie" and self._given_catalog is None

    @property
    def nessie(self) -> NessieReferences:
        if not self.is_nessie:
            raise InvalidConfig(
                f"the {self.settings.describe()} has no Nessie references",
                hint="use a nessie catalog, or Iceberg table refs via SnapshotManager",
            )
        if self._nessie_refs is None:
            from phlo_lakehouse.nessie import NessieReferences

            self._nessie_refs = NessieReferences(self.settings.uri or "")
        return self._nessie_refs

    def resolve_ref(self, ref: str | None) -> str:
        """Validate ``ref`` (default: the settings' default ref); on Nessie, check it exists."""
        name = validate_ref_name(ref or self.settings.default_ref)
        if self.is_nessie:
            self.nessie.get(name)
        return name

    def catalog(self, ref: str | None = None) -> Catalog:
        """The PyIceberg catalog (for Nessie: the one serving ``ref``), opened on first use."""
        if self._given_catalog is not None:
            return self._given_catalog
        key = (ref or self.settings.default_ref) if self.is_nessie else ""
        with self._lock:
            if key not in self._catalogs:
                self._catalogs[key] = build_catalog(self.settings, key or None)
            return self._catalogs[key]

    def get_table(self, name: str | TableIdentifier, ref: str | None = None) -> LakehouseTable:
        """Load ``name`` as of ``ref``.

        Raises:
            InvalidIdentifier, InvalidRefName: malformed name or ref (nothing is contacted).
            RefNotFound: the Nessie reference or Iceberg table ref does not exist.
            NamespaceNotFound, TableNotFound: nothing by that name on that ref.
            CatalogUnavailable: the catalog cannot be reached.

        Example:
            >>> lh.get_table("raw.events", ref="dev").snapshot_id   # doctest: +SKIP
        """
        ident = parse_table_identifier(name)
        ref_name = validate_ref_name(ref or self.settings.default_ref)
        with catalog_errors(self.settings):
            ref_name = self.resolve_ref(ref_name)
            catalog = self.catalog(ref_name)
            table = load_table(catalog, ident, ref_name if self.is_nessie else None)
        handle = LakehouseTable(ident, ref_name, table, nessie=self.is_nessie)
        if not handle.nessie and ref_name != MAIN and ref_name not in table.metadata.refs:
            known = ", ".join(sorted(table.metadata.refs)) or "none"
            raise RefNotFound(
                f"table {ident} has no branch or tag {ref_name!r} (refs: {known})",
                hint=Phrase(
                    "create it with {} or pick a listed one",
                    Words(
                        "SnapshotManager.create_branch/create_tag",
                        "`snapshots branch TABLE NAME` or `snapshots tag TABLE NAME`",
                    ),
                ),
            )
        return handle

    def list_namespaces(self, ref: str | None = None) -> list[tuple[str, ...]]:
        """Every namespace, nested levels included."""
        with catalog_errors(self.settings):
            catalog = self.catalog(self.resolve_ref(ref))
            found: list[tuple[str, ...]] = []
            pending = [tuple(ns) for ns in catalog.list_namespaces()]
            while pending:
                ns = pending.pop()
                if ns in found:
                    continue
                found.append(ns)
                pending.extend(
                    tuple(child) for child in catalog.list_namespaces(ns) if tuple(child) != ns
                )
        return sorted(found)

    def list_tables(
        self, namespace: str | Sequence[str] | None = None, ref: str | None = None
    ) -> list[TableIdentifier]:
        """Tables in ``namespace`` (all namespaces when None), sorted."""
        namespaces = (
            [parse_namespace(namespace)] if namespace is not None else self.list_namespaces(ref)
        )
        with catalog_errors(self.settings):
            catalog = self.catalog(self.resolve_ref(ref))
            tables: list[TableIdentifier] = []
            for ns in namespaces:
                try:
                    listed = catalog.list_tables(ns)
                except Exception as e:
                    if type(e).__name__ == "NoSuchNamespaceError":
                        raise NamespaceNotFound(
                            f"namespace {'.'.join(ns)} does not exist",
                            hint="list namespaces with `phlo-lakehouse tables list`",
                        ) from e
                    raise
                tables.extend(TableIdentifier(tuple(t[:-1]), t[-1]) for t in listed)
        return sorted(tables)


def __getattr__(name: str) -> object:
    if name == "LakehouseResource":  # renamed: it was easy to confuse with the Dagster resource
        import warnings

        warnings.warn(
            "phlo_lakehouse.lakehouse.LakehouseResource is now Lakehouse "
            "(the Dagster resource keeps the name phlo_lakehouse.dagster.LakehouseResource)",
            DeprecationWarning,
            stacklevel=2,
        )
        return Lakehouse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
