"""`LakehouseResourceProvider`: phlo-lakehouse as a Phlo resource provider (entry point group
``phlo.plugins.resources``, name ``lakehouse``).

Capabilities it registers — names chosen so that none replaces a neighbour's (phlo-iceberg
registers ``table_store``/``schema_migrator`` ``iceberg``, phlo-trino ``maintenance_executor``
``trino``, phlo-nessie ``catalog`` ``nessie``):

- ``maintenance_executor`` ``compact`` and ``snapshot_expiry`` — the names
  ``phlo operations maintenance plan --operation …`` resolves;
- ``schema_migrator`` ``lakehouse`` — `LakehouseSchemaMigrator`.

Maintenance status reaches Phlo's default ``maintenance_read_model`` through telemetry
(`PhloTelemetryHook`); we register no read model and no authorization backend of our own, which
would make Phlo's unnamed resolution of those families ambiguous.

Harvesting the specs builds the providers only: nothing connects, nothing reads the
environment until a provider is called.

Example:
    >>> [s.name for s in LakehouseResourceProvider().get_maintenance_executors()]
    ['compact', 'snapshot_expiry']
"""

from __future__ import annotations

from phlo.capabilities.specs import MaintenanceExecutorSpec, ResourceSpec, SchemaMigrationSpec
from phlo.capabilities.support import CapabilitySupport
from phlo.plugins.base import PluginMetadata, ResourceProviderPlugin

from phlo_lakehouse.phlo_adapter.executors import CompactExecutor, SnapshotExpiryExecutor

PLUGIN_NAME = "lakehouse"
_EXECUTOR_SUPPORT = CapabilitySupport(
    supports_refs=True, supports_snapshots=True, supports_atomic_validation=True
)


class LakehouseResourceProvider(ResourceProviderPlugin):
    """Registers phlo-lakehouse's maintenance executors and schema migrator with Phlo.

    Example:
        >>> LakehouseResourceProvider().metadata.name
        'lakehouse'
    """

    @property
    def metadata(self) -> PluginMetadata:
        """Name, version and what the plugin provides."""
        from phlo_lakehouse.cli.main import package_version

        return PluginMetadata(
            name=PLUGIN_NAME,
            version=package_version(),
            description="Iceberg table maintenance (compaction, snapshot expiry) and schema "
            "migration on any PyIceberg catalog, Nessie included",
            license="Apache-2.0",
            tags=["iceberg", "maintenance", "schema"],
            support=_EXECUTOR_SUPPORT,
        )

    def get_resources(self) -> list[ResourceSpec]:
        """None: the Dagster resource comes with our Dagster extension (``phlo.plugins.dagster``),
        so merged definitions never see the ``lakehouse`` resource key twice."""
        return []

    def get_maintenance_executors(self) -> list[MaintenanceExecutorSpec]:
        """``compact`` and ``snapshot_expiry``."""
        return [
            MaintenanceExecutorSpec(
                name=executor.operation,
                provider=executor,
                metadata={
                    "provider": "phlo-lakehouse",
                    "operation": executor.operation,
                    "plan_token": "binds table uuid, snapshot id at the ref, settings and plan",
                    "minimum_retention_hours": 168,
                },
                support=_EXECUTOR_SUPPORT,
            )
            for executor in (CompactExecutor(), SnapshotExpiryExecutor())
        ]

    def get_schema_migrators(self) -> list[SchemaMigrationSpec]:
        """``lakehouse``: schema changes through our SchemaManager."""
        from phlo_lakehouse.phlo_adapter.schema_migrator import LakehouseSchemaMigrator

        return [
            SchemaMigrationSpec(
                name=PLUGIN_NAME,
                provider=LakehouseSchemaMigrator(),
                metadata={"provider": "phlo-lakehouse"},
                support=CapabilitySupport(supports_schema_evolution=True, supports_refs=True),
            )
        ]
