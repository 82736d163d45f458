"""Migrations into Iceberg: catalog to catalog (`IcebergCatalogMigration`), Hive metastore tables
(`HiveMigration`) and AWS Glue tables (`GlueMigration`), each with plans, results per table, a run
summary and validation (`ValidationReport`).

Nothing here imports PyIceberg, thrift or boto3 at import time.

Example:
    >>> from phlo_lakehouse.migration import HiveMigration
    >>> migration = HiveMigration(lakehouse, metastore_uri="thrift://hms:9083")  # doctest: +SKIP
    >>> print(migration.run(["sales.*"], dry_run=True).summary())  # doctest: +SKIP
"""

from phlo_lakehouse.errors import ValidationFailed
from phlo_lakehouse.migration.base import CatalogMigration, MigrateTableOperation
from phlo_lakehouse.migration.glue import GlueMigration
from phlo_lakehouse.migration.hive import HiveMigration
from phlo_lakehouse.migration.iceberg import IcebergCatalogMigration
from phlo_lakehouse.migration.results import MigrationSummary, TableMigrationResult
from phlo_lakehouse.migration.validation import ValidationCheck, ValidationReport

__all__ = [
    "CatalogMigration",
    "GlueMigration",
    "HiveMigration",
    "IcebergCatalogMigration",
    "MigrateTableOperation",
    "MigrationSummary",
    "TableMigrationResult",
    "ValidationCheck",
    "ValidationFailed",
    "ValidationReport",
]
