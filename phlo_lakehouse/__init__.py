"""phlo_lakehouse: a Dagster-native lakehouse framework for Phlo on Apache Iceberg and Nessie.

Nothing here does I/O at import: catalogs are opened on first use.

Example:
    >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    >>> lakehouse = IcebergLakehouse(CatalogSettings.embedded(".lakehouse"))
    >>> lakehouse.collect_stats("demo.events").row_count       # doctest: +SKIP
    6000
"""

from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.errors import (
    AccessDenied,
    CatalogUnavailable,
    Conflict,
    InvalidConfig,
    InvalidDuration,
    InvalidIdentifier,
    InvalidInput,
    InvalidRefName,
    InvalidSize,
    LakehouseError,
    NamespaceNotFound,
    NotFound,
    OperationFailed,
    RefNotFound,
    SnapshotNotFound,
    TableNotFound,
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
    "CatalogSettings",
    "CatalogUnavailable",
    "Conflict",
    "IcebergLakehouse",
    "InvalidConfig",
    "InvalidDuration",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidRefName",
    "InvalidSize",
    "LakehouseError",
    "Lakehouse",
    "LakehouseTable",
    "MetadataCollector",
    "NamespaceNotFound",
    "NotFound",
    "OperationFailed",
    "RefNotFound",
    "SnapshotNotFound",
    "TableIdentifier",
    "TableMetadata",
    "TableNotFound",
    "TableSelector",
    "format_size",
    "parse_duration",
    "parse_namespace",
    "parse_size",
    "parse_table_identifier",
    "validate_ref_name",
]


def __getattr__(name: str) -> object:
    if name == "LakehouseResource":  # renamed; the Dagster resource keeps this name
        from phlo_lakehouse import lakehouse

        return getattr(lakehouse, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
