"""Staging tables: an Iceberg table created over existing files in one commit under a temporary
name, validated, then renamed into place (or dropped, metadata files and all, never a data file).

Example:
    >>> staged = create_staged_table(catalog, ident, location=None, schema=schema, spec=spec,
    ...                              properties={}, imported=imported)        # doctest: +SKIP
    >>> drop_staging(catalog, ident)                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import OperationFailed
from phlo_lakehouse.migration.base import SOURCE_PROPERTY, load_iceberg_table

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

    from phlo_lakehouse.identifiers import TableIdentifier
    from phlo_lakehouse.migration.datafiles import ParquetImport

NAME_MAPPING_PROPERTY = "schema.name-mapping.default"


def default_location(catalog: Catalog, ident: TableIdentifier) -> str | None:
    """Where ``catalog`` would put a new table ``ident`` (None: the catalog decides, as REST
    catalogs do). The namespace must exist."""
    from phlo_lakehouse._upstream.pyiceberg import metastore_table_location

    return metastore_table_location(catalog, ".".join(ident.namespace), ident.name)


def create_staged_table(
    catalog: Catalog,
    ident: TableIdentifier,
    *,
    location: str | None,
    schema: Schema,
    spec: PartitionSpec,
    properties: Mapping[str, str],
    imported: ParquetImport,
) -> Table:
    """Create ``ident`` with every imported data file in one commit (a crash leaves either no
    table or a complete one) and return it.

    Raises:
        OperationFailed: the catalog assigned other field ids than the data files were built for.
    """
    props = {**properties, NAME_MAPPING_PROPERTY: imported.name_mapping}
    transaction = catalog.create_table_transaction(
        ident.as_tuple(), schema=schema, location=location, partition_spec=spec, properties=props
    )
    created = transaction.table_metadata
    if created.schema() != schema or created.spec().fields != spec.fields:
        raise OperationFailed(
            f"the catalog changed the field ids of {ident} on creation",
            hint="report this: the data files were built for the planned ids",
        )
    if imported.data_files:
        summary = {SOURCE_PROPERTY: props.get(SOURCE_PROPERTY, "")}
        with transaction.update_snapshot(snapshot_properties=summary).fast_append() as append:
            for data_file in imported.data_files:
                append.append_data_file(data_file)
    transaction.commit_transaction()
    return catalog.load_table(ident.as_tuple())


def drop_staging(catalog: Catalog, ident: TableIdentifier) -> None:
    """Drop a staging table and delete its metadata files (never a data file: they are the
    source's)."""
    from phlo_lakehouse.operations.reachable import reachable_files
    from phlo_lakehouse.storage.deletion import delete_files

    table = load_iceberg_table(catalog, ident)
    if table is None:
        return
    reach = reachable_files(table)
    catalog.drop_table(ident.as_tuple())
    delete_files(table.io, reach.metadata | reach.manifest_lists | reach.manifests)
