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

from collections.abc import Sequence

import dagster as dg

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.identifiers import TableIdentifier, TableSelector, parse_table_identifier


class LakehouseTranslator:
    """Maps table identifiers to asset keys; default ``AssetKey([*namespace, table])``."""

    def get_asset_key(self, table: TableIdentifier) -> dg.AssetKey:
        """The asset key of ``table``."""
        return dg.AssetKey([*table.namespace, table.name])

    def asset_key_for(self, table: str | TableIdentifier) -> dg.AssetKey:
        """`get_asset_key` for a table given as text or identifier."""
        return self.get_asset_key(parse_table_identifier(table))


def literal_tables_by_key(
    tables: Sequence[str], translator: LakehouseTranslator | None = None
) -> dict[dg.AssetKey, TableIdentifier]:
    """Each table's asset key → its identifier, for definitions that need asset keys when they
    load (asset checks): wildcard selectors are refused, since their tables are not known yet.

    Raises:
        InvalidInput: a table is a wildcard selector such as ``raw.*``.
    """
    translator = translator or LakehouseTranslator()
    by_key: dict[dg.AssetKey, TableIdentifier] = {}
    for table in tables:
        if not TableSelector.parse(table).is_literal:
            raise InvalidInput(
                f"checks need literal table names, got {table!r}",
                hint="list the tables (asset keys must be known when definitions load)",
            )
        ident = parse_table_identifier(table)
        by_key[translator.get_asset_key(ident)] = ident
    return by_key
