"""`table_asset_specs`: lakehouse tables as external Dagster assets, for tables no other
integration (Phlo ingestion, dagster-iceberg, dbt) defines.

Each spec has the table's asset key (from the `LakehouseTranslator`), the kinds ``iceberg`` and
the catalog's own (``sqlite``, ``postgres``, ``nessie``, ``glue``, ``hive``, ``rest``), its
``dagster/table_name``, a group and a description. Given a lakehouse, it also reads each
table's schema into ``dagster/column_schema`` and its ``comment`` property into the
description, and resolves wildcard selectors: that is catalog I/O, so do it where a code
location may talk to the catalog when it loads. Without one, nothing is read (the maintenance
observations then bring the column schema at run time).

Example:
    >>> specs = table_asset_specs(tables=["raw.events"], group_name="raw")
    >>> specs[0].key, sorted(specs[0].kinds)
    (AssetKey(['raw', 'events']), ['iceberg', 'sqlite'])
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.dagster.observations import column_schema
from phlo_lakehouse.dagster.translator import LakehouseTranslator, literal_tables_by_key
from phlo_lakehouse.identifiers import TableIdentifier

_SQL_KINDS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}


def catalog_kind(settings: CatalogSettings) -> str:
    """The Dagster kind of the catalog behind ``settings`` (its icon in the UI).

    Example:
        >>> catalog_kind(CatalogSettings(type="nessie", uri="http://127.0.0.1:19120"))
        'nessie'
    """
    if settings.type == "sql":
        scheme = (settings.uri or "sqlite").split(":", 1)[0].split("+", 1)[0]
        return _SQL_KINDS.get(scheme, "sql")
    return settings.type


def table_asset_specs(
    *,
    tables: Sequence[str],
    lakehouse: Any | None = None,
    translator: LakehouseTranslator | None = None,
    group_name: str | None = "lakehouse",
    ref: str | None = None,
    settings: CatalogSettings | None = None,
) -> list[dg.AssetSpec]:
    """External asset specs of ``tables``.

    Args:
        tables: literal table names; with ``lakehouse`` also selectors such as ``raw.*``.
        lakehouse: a `LakehouseResource` or `IcebergLakehouse` to read schemas and comments
            from (catalog I/O); None reads nothing.
        translator: table → asset key.
        group_name: the assets' group.
        ref: the ref whose schemas are read.
        settings: catalog settings for the kind and table names (default: the lakehouse's,
            else the environment's).

    Raises:
        InvalidInput: a wildcard selector without ``lakehouse``, or a malformed name.
    """
    translator = translator or LakehouseTranslator()
    if lakehouse is not None:
        inner = lakehouse.get_lakehouse() if hasattr(lakehouse, "get_lakehouse") else lakehouse
        settings = settings or inner.settings
        idents: list[TableIdentifier] = inner.resolve_tables(list(tables), ref)
    else:
        inner = None
        idents = list(literal_tables_by_key(tables, translator).values())
    settings = settings or CatalogSettings.from_env()
    kinds = {"iceberg", catalog_kind(settings)}
    specs = []
    for ident in idents:
        metadata: dict[str, Any] = {"dagster/table_name": f"{settings.name}.{ident}"}
        description = f"Iceberg table {ident} in the {settings.name} catalog."
        if inner is not None:
            table = inner.get_table(ident, ref).table
            metadata["dagster/column_schema"] = column_schema(table.schema())
            description = table.properties.get("comment") or description
        specs.append(
            dg.AssetSpec(
                translator.get_asset_key(ident),
                description=description,
                group_name=group_name,
                kinds=kinds,
                metadata=metadata,
            )
        )
    return specs
