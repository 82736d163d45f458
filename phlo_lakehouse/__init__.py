"""phlo_lakehouse: a Dagster-native lakehouse framework for Phlo on Apache Iceberg and Nessie.

Nothing here does I/O at import: catalogs are opened on first use.

Example:
    >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    >>> lakehouse = IcebergLakehouse(CatalogSettings.embedded(".lakehouse"))
    >>> lakehouse.collect_stats("demo.events").row_count       # doctest: +SKIP
    6000
"""

from typing import TYPE_CHECKING

from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.errors import (
    AccessDenied,
    AuditFailed,
    AuditUnavailable,
    CatalogMissing,
    CatalogUnavailable,
    ColumnNotFound,
    CommitStateUnknown,
    ConfirmationRequired,
    Conflict,
    DeletionIncomplete,
    InvalidConfig,
    InvalidDuration,
    InvalidIdentifier,
    InvalidInput,
    InvalidRefName,
    InvalidSize,
    LakehouseError,
    MergeConflict,
    NamespaceNotFound,
    NotFound,
    OperationFailed,
    PlanStale,
    RefNotFound,
    RetentionFloorViolation,
    SnapshotNotFound,
    SparkUnavailable,
    StaleReplace,
    TableMetadataMissing,
    TableNotFound,
    UnsupportedUpstreamVersion,
    ValidationFailed,
)
from phlo_lakehouse.identifiers import (
    TableIdentifier,
    TableSelector,
    parse_namespace,
    parse_table_identifier,
    validate_ref_name,
)
from phlo_lakehouse.lakehouse import IcebergLakehouse, Lakehouse
from phlo_lakehouse.metadata import MetadataCollector, TableMetadata
from phlo_lakehouse.table import LakehouseTable
from phlo_lakehouse.units import format_size, parse_duration, parse_size

__all__ = [
    "AccessDenied",
    "AuditFailed",
    "AuditUnavailable",
    "CatalogSettings",
    "CatalogMissing",
    "CatalogUnavailable",
    "ColumnNotFound",
    "CommitStateUnknown",
    "ConfirmationRequired",
    "Conflict",
    "DeletionIncomplete",
    "IcebergLakehouse",
    "InvalidConfig",
    "InvalidDuration",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidRefName",
    "InvalidSize",
    "Lakehouse",
    "LakehouseError",
    "LakehouseTable",
    "MergeConflict",
    "MetadataCollector",
    "NamespaceNotFound",
    "NessieReferences",
    "NotFound",
    "OperationFailed",
    "PlanStale",
    "RefNotFound",
    "RetentionFloorViolation",
    "SchemaManager",
    "SnapshotManager",
    "SnapshotNotFound",
    "SparkUnavailable",
    "StaleReplace",
    "TableIdentifier",
    "TableMetadata",
    "TableMetadataMissing",
    "TableNotFound",
    "TableSelector",
    "UnsupportedUpstreamVersion",
    "ValidationFailed",
    "WriteAuditPublish",
    "format_size",
    "parse_duration",
    "parse_namespace",
    "parse_size",
    "parse_table_identifier",
    "validate_ref_name",
]


if TYPE_CHECKING:
    from phlo_lakehouse.nessie import NessieReferences
    from phlo_lakehouse.schema import SchemaManager
    from phlo_lakehouse.snapshots import SnapshotManager
    from phlo_lakehouse.wap import WriteAuditPublish

#: The managers, imported on first use (they load PyIceberg; importing the package does not).
_LAZY = {
    "SnapshotManager": "phlo_lakehouse.snapshots",
    "SchemaManager": "phlo_lakehouse.schema",
    "WriteAuditPublish": "phlo_lakehouse.wap",
    "NessieReferences": "phlo_lakehouse.nessie",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "LakehouseResource":  # renamed; the Dagster resource keeps this name
        from phlo_lakehouse import lakehouse

        return getattr(lakehouse, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
