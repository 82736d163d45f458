"""`LakehouseTranslator`: which Dagster asset key a lakehouse table is.

Override `get_asset_key` so observations and checks land on the assets your ingestion already
produces (Phlo ingestion, dagster-iceberg IO managers, dbt sources …).

Example:
    >>> from phlo_lakehouse.identifiers import parse_table_identifier
    >>> LakehouseTranslator().get_asset_key(parse_table_identifier("raw.events"))
    AssetKey(['raw', 'events'])
    >>> class Prefixed(LakehouseTranslator):
    ...     def get_asset_key(self, table):
    ...         return super().get_asset_key(table).with_prefix("lake")
    >>> Prefixed().get_asset_key(parse_table_identifier("raw.events"))
    AssetKey(['lake', 'raw', 'events'])
"""

import dagster as dg

from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier


class LakehouseTranslator:
    """Maps table identifiers to asset keys; default ``AssetKey([*namespace, table])``."""

    def get_asset_key(self, table: TableIdentifier) -> dg.AssetKey:
        """The asset key of ``table``."""
        return dg.AssetKey([*table.namespace, table.name])

    def asset_key_for(self, table: str | TableIdentifier) -> dg.AssetKey:
        """`get_asset_key` for a table given as text or identifier."""
        return self.get_asset_key(parse_table_identifier(table))
