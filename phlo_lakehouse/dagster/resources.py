"""Dagster resources: `LakehouseResource` (the catalog and the execution path) and the resources
that depend on it: `MetadataResource` (statistics), `SnapshotResource` (`SnapshotManager`'s
reads and ref changes, run through the `LakehouseResource`'s executor path) and
`SchemaResource` (`SchemaManager`'s evolution, diffs, compatibility checks and exports).

Usable from any asset or op. Nothing connects until a method is called.

Example:
    >>> import dagster as dg
    >>> from phlo_lakehouse.dagster import LakehouseResource
    >>> @dg.asset
    ... def events_rows(lakehouse: LakehouseResource) -> int:
    ...     return lakehouse.collect_stats("raw.events").row_count or 0
    >>> defs = dg.Definitions(assets=[events_rows], resources={"lakehouse": LakehouseResource()})
"""

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from phlo_lakehouse.config import CATALOG_TYPES, CatalogSettings
from phlo_lakehouse.hooks import HookSettings, build_hooks
from phlo_lakehouse.identifiers import TableIdentifier, validate_ref_name
from phlo_lakehouse.lakehouse import IcebergLakehouse, run_kind
from phlo_lakehouse.metadata import TableMetadata
from phlo_lakehouse.operations.base import CatalogOperation, OperationResult, TableOperation
from phlo_lakehouse.schema import CompatibilityReport, SchemaDiff, SchemaManager
from phlo_lakehouse.snapshots import SnapshotInfo, SnapshotManager
from phlo_lakehouse.table import LakehouseTable

if TYPE_CHECKING:
    import pyarrow as pa

PRINCIPAL_TAG = "phlo/principal"


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse catalog as a Dagster resource.

    With no catalog fields set, settings come from the environment (``PHLO_LAKEHOUSE_*``, then
    Phlo's ``NESSIE_*``/``MINIO_*``/``ICEBERG_*`` variables, then the embedded SQLite default).
    """

    catalog_type: str | None = Field(
        default=None, description=f"One of {', '.join(CATALOG_TYPES)}; None reads the environment."
    )
    catalog_name: str = Field(default="lakehouse", description="Catalog name.")
    catalog_uri: str | None = Field(
        default=None, description="sqlite:///…, postgresql+psycopg2://…, http://… or thrift://…"
    )
    warehouse: str | None = Field(default=None, description="Warehouse location or name.")
    default_ref: str = Field(default="main", description="Ref used when an op names none.")
    home: str | None = Field(
        default=None, description="Directory of the embedded default (.lakehouse) when no uri."
    )
    properties: dict[str, str] = Field(
        default_factory=dict, description="Extra PyIceberg catalog properties (s3.*, glue.* …)."
    )
    pushgateway_url: str | None = Field(
        default=None,
        description="Prometheus Pushgateway to push operation metrics to after each operation.",
    )
    metrics_job: str = Field(default="phlo_lakehouse", description="Pushgateway job label.")
    access_control: bool = Field(
        default=False,
        description="Check every operation against access policies (default deny) and audit it.",
    )
    access_db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the policy and audit store; default "
        "sqlite:///<home>/access.db next to the embedded catalog.",
    )
    audit_secret: str | None = Field(
        default=None, description="HMAC key for the audit chain (use dg.EnvVar)."
    )
    phlo: bool = Field(
        default=False,
        description="Running in a Phlo project: report every operation to Phlo's maintenance "
        "telemetry and let Phlo's authorization backend decide when Phlo enforces one.",
    )
    engine: str = Field(
        default="local",
        description="Where operations execute: local (this process), spark (Iceberg's Spark "
        "procedures) or auto (spark from auto_engine_threshold on). Run config may override it.",
    )
    spark_remote: str | None = Field(
        default=None,
        description="Spark Connect URL (sc://host:port) of the spark/auto engine; None starts "
        "a local Spark session with spark_jars.",
    )
    spark_jars: list[str] = Field(
        default_factory=list,
        description="Jars of a local Spark session (Iceberg Spark runtime, JDBC driver, "
        "iceberg-aws-bundle for S3).",
    )
    auto_engine_threshold: str = Field(
        default="10GB", description="Table size from which the auto engine runs on Spark."
    )

    _lakehouse: IcebergLakehouse | None = PrivateAttr(default=None)
    _engines: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("default_ref")
    @classmethod
    def _valid_ref(cls, value: str) -> str:
        return validate_ref_name(value)

    @field_validator("engine")
    @classmethod
    def _valid_engine(cls, value: str) -> str:
        from phlo_lakehouse.engines import ENGINE_KINDS

        if value not in ENGINE_KINDS:
            raise ValueError(
                f"engine {value!r} is not known; choose one of {', '.join(ENGINE_KINDS)}"
            )
        return value

    @field_validator("catalog_type")
    @classmethod
    def _valid_type(cls, value: str | None) -> str | None:
        if value is not None and value not in CATALOG_TYPES:
            raise ValueError(
                f"catalog_type {value!r} is not supported; choose one of {', '.join(CATALOG_TYPES)}"
            )
        return value

    def catalog_settings(self) -> CatalogSettings:
        """The `CatalogSettings` these fields describe."""
        if self.catalog_type is None and self.catalog_uri is None:
            env = dict(os.environ)
            if self.home is not None:
                env["PHLO_LAKEHOUSE_HOME"] = self.home
            settings = CatalogSettings.from_env(env)
        elif self.catalog_type in (None, "sql") and self.catalog_uri is None:
            settings = CatalogSettings.embedded(self.home or ".lakehouse", name=self.catalog_name)
        else:
            settings = CatalogSettings(
                type=self.catalog_type or "sql",
                name=self.catalog_name,
                uri=self.catalog_uri,
                warehouse=self.warehouse,
                properties=dict(self.properties),
            )
        return settings.with_ref(self.default_ref) if self.default_ref != "main" else settings

    def hook_settings(self) -> HookSettings:
        """The access control, audit and metrics settings these fields describe."""
        return HookSettings(
            access_control=self.access_control,
            access_db_url=self.access_db_url,
            audit_secret=self.audit_secret,
            pushgateway_url=self.pushgateway_url,
            metrics_job=self.metrics_job,
            home=self.home or os.environ.get("PHLO_LAKEHOUSE_HOME"),
            phlo=self.phlo,
        )

    def access_url(self) -> str:
        """Where policies and the audit log live."""
        return self.hook_settings().access_url()

    def get_lakehouse(self) -> IcebergLakehouse:
        """The `IcebergLakehouse` behind this resource (one per process)."""
        if self._lakehouse is None:
            lakehouse = IcebergLakehouse(self.catalog_settings())
            lakehouse.hooks = build_hooks(self.hook_settings(), lakehouse)
            self._lakehouse = lakehouse
        return self._lakehouse

    def get_engine(self, name: str | None = None) -> Any:
        """The engine called ``name`` (default: the ``engine`` field), one per process; nothing
        connects until it executes."""
        kind = name or self.engine
        if kind not in self._engines:
            from phlo_lakehouse.engines import build_engine

            self._engines[kind] = build_engine(
                kind,
                self.get_lakehouse().settings,
                spark_remote=self.spark_remote,
                spark_jars=self.spark_jars,
                auto_threshold=self.auto_engine_threshold,
            )
        return self._engines[kind]

    def get_table(self, name: str | TableIdentifier, ref: str | None = None) -> LakehouseTable:
        """Load ``name`` as of ``ref``."""
        return self.get_lakehouse().get_table(name, ref)

    def list_tables(
        self, namespace: str | None = None, ref: str | None = None
    ) -> list[TableIdentifier]:
        """Tables in ``namespace`` (all when None)."""
        return self.get_lakehouse().list_tables(namespace, ref)

    def resolve_tables(self, selectors: list[str], ref: str | None = None) -> list[TableIdentifier]:
        """Tables matching selectors such as ``raw.*``."""
        return self.get_lakehouse().resolve_tables(selectors, ref)

    def collect_stats(
        self, name: str | TableIdentifier, ref: str | None = None, *, full: bool = False
    ) -> TableMetadata:
        """Statistics of ``name`` on ``ref``."""
        return self.get_lakehouse().collect_stats(name, ref, full=full)

    def run(
        self,
        operation: TableOperation,
        name: str | TableIdentifier,
        ref: str | None = None,
        *,
        dry_run: bool = False,
        principal: str | None = None,
        engine: str | None = None,
    ) -> OperationResult:
        """Run ``operation`` through the single executor (metrics pushed when configured), on
        ``engine`` (default: the ``engine`` field)."""
        return self.get_lakehouse().run(
            operation,
            name,
            ref,
            dry_run=dry_run,
            principal=principal,
            engine=self.get_engine(engine),
        )

    def run_catalog(
        self,
        operation: CatalogOperation,
        ref: str | None = None,
        *,
        dry_run: bool = False,
        principal: str | None = None,
    ) -> OperationResult:
        """Run a catalog-level ``operation`` on reference ``ref`` (None: the whole catalog)
        through the same executor and hooks (metrics pushed when configured)."""
        return self.get_lakehouse().run_catalog(
            operation, ref, dry_run=dry_run, principal=principal
        )

    def optimize_table(self, name: str, ref: str | None = None, **kwargs: Any) -> OperationResult:
        """Compact ``name`` (see `OptimizeOperation`)."""
        return run_kind(self.run, "optimize", name, ref, kwargs)

    def expire_snapshots(self, name: str, ref: str | None = None, **kwargs: Any) -> OperationResult:
        """Expire snapshots of ``name`` (see `ExpireSnapshotsOperation`)."""
        return run_kind(self.run, "expire", name, ref, kwargs)

    def vacuum(self, name: str, ref: str | None = None, **kwargs: Any) -> OperationResult:
        """Delete orphan files of ``name`` (see `VacuumOperation`)."""
        return run_kind(self.run, "vacuum", name, ref, kwargs)

    def rewrite_manifests(
        self, name: str, ref: str | None = None, **kwargs: Any
    ) -> OperationResult:
        """Cluster the manifests of ``name`` (see `RewriteManifestsOperation`)."""
        return run_kind(self.run, "rewrite_manifests", name, ref, kwargs)


class MetadataResource(dg.ConfigurableResource):
    """Table statistics for assets and checks, over a `LakehouseResource`.

    Example:
        >>> MetadataResource(lakehouse=LakehouseResource()).full
        False
    """

    lakehouse: LakehouseResource
    full: bool = Field(default=False, description="Read manifests for the full figures.")

    def collect(self, name: str | TableIdentifier, ref: str | None = None) -> TableMetadata:
        """Statistics of ``name`` on ``ref``."""
        return self.lakehouse.collect_stats(name, ref, full=self.full)

    def collect_many(self, names: list[str], ref: str | None = None) -> dict[str, TableMetadata]:
        """Statistics of each of ``names`` (keyed by name)."""
        return {name: self.collect(name, ref) for name in names}


Table = str | TableIdentifier


class SnapshotResource(dg.ConfigurableResource):
    """Snapshots, refs and time travel (`SnapshotManager`) over a `LakehouseResource`.

    Example:
        >>> SnapshotResource(lakehouse=LakehouseResource()).manager()   # doctest: +SKIP
    """

    lakehouse: LakehouseResource = Field(description="The lakehouse whose tables are managed.")

    def manager(self) -> SnapshotManager:
        """The `SnapshotManager`, running operations through the lakehouse resource."""
        return SnapshotManager(self.lakehouse.get_lakehouse(), run=self.lakehouse.run)

    def list_snapshots(self, table: Table, ref: str | None = None) -> list[SnapshotInfo]:
        """See `SnapshotManager.list_snapshots`."""
        return self.manager().list_snapshots(table, ref)

    def get_snapshot(self, table: Table, snapshot_id: int, ref: str | None = None) -> SnapshotInfo:
        """See `SnapshotManager.get_snapshot`."""
        return self.manager().get_snapshot(table, snapshot_id, ref)

    def read(self, table: Table, **kwargs: Any) -> "pa.Table":
        """Time-travel read (snapshot_id=, as_of= or tag=); see `SnapshotManager.read`."""
        return self.manager().read(table, **kwargs)

    def expire_snapshots(self, table: Table, **kwargs: Any) -> OperationResult:
        """See `SnapshotManager.expire_snapshots`."""
        return self.manager().expire_snapshots(table, **kwargs)

    def rollback_to_snapshot(self, table: Table, snapshot_id: int, **kw: Any) -> OperationResult:
        """See `SnapshotManager.rollback_to_snapshot`."""
        return self.manager().rollback_to_snapshot(table, snapshot_id, **kw)

    def rollback_to_timestamp(
        self, table: Table, timestamp: datetime | int | str, **kw: Any
    ) -> OperationResult:
        """See `SnapshotManager.rollback_to_timestamp`."""
        return self.manager().rollback_to_timestamp(table, timestamp, **kw)

    def set_current_snapshot(self, table: Table, snapshot_id: int, **kw: Any) -> OperationResult:
        """See `SnapshotManager.set_current_snapshot`."""
        return self.manager().set_current_snapshot(table, snapshot_id, **kw)

    def create_tag(self, table: Table, name: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.create_tag`."""
        return self.manager().create_tag(table, name, **kw)

    def create_branch(self, table: Table, name: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.create_branch`."""
        return self.manager().create_branch(table, name, **kw)

    def remove_ref(self, table: Table, name: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.remove_ref`."""
        return self.manager().remove_ref(table, name, **kw)

    def fast_forward(self, table: Table, branch: str, to: str, **kw: Any) -> OperationResult:
        """See `SnapshotManager.fast_forward`."""
        return self.manager().fast_forward(table, branch, to, **kw)

    def cherry_pick(self, table: Table, snapshot_id: int, **kw: Any) -> OperationResult:
        """See `SnapshotManager.cherry_pick`."""
        return self.manager().cherry_pick(table, snapshot_id, **kw)


class SchemaResource(dg.ConfigurableResource):
    """Schema evolution, diffs, compatibility and export (`SchemaManager`).

    Example:
        >>> SchemaResource(lakehouse=LakehouseResource()).manager()     # doctest: +SKIP
    """

    lakehouse: LakehouseResource = Field(description="The lakehouse whose tables are managed.")

    def manager(self) -> SchemaManager:
        """The `SchemaManager`, running operations through the lakehouse resource."""
        return SchemaManager(self.lakehouse.get_lakehouse(), run=self.lakehouse.run)

    def evolve_schema(self, table: Table, **changes: Any) -> OperationResult:
        """See `SchemaManager.evolve_schema`."""
        return self.manager().evolve_schema(table, **changes)

    def diff_schemas(self, table: Table, *args: Any, **kwargs: Any) -> SchemaDiff:
        """See `SchemaManager.diff_schemas`."""
        return self.manager().diff_schemas(table, *args, **kwargs)

    def validate_evolution(self, table: Table, *args: Any, **kwargs: Any) -> CompatibilityReport:
        """See `SchemaManager.validate_evolution`."""
        return self.manager().validate_evolution(table, *args, **kwargs)

    def export_schema(self, table: Table, format: str = "markdown", **kwargs: Any) -> str:
        """See `SchemaManager.export_schema`."""
        return self.manager().export_schema(table, format, **kwargs)
