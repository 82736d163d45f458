"""`PhloAssetTranslator`: a table's asset key is the key of the Phlo asset that writes it.

Phlo generates asset keys from its providers' asset specs, not from table names: phlo-dlt's
``@phlo.ingest.dlt(table_name="events")`` is the asset ``dlt_events`` writing ``raw.events``
(its namespace comes from phlo-dlt's ``namespace_resolver``, ``raw`` by default). The translator
reads the specs Phlo has registered — in memory, after Phlo's discovery — and maps each table
they name to the key phlo-dagster builds for it (``AssetSpec.key`` split on dots), so our
observations and stats checks land on the assets Phlo shows. Tables no Phlo asset writes keep
the default key, ``AssetKey([*namespace, table])``.

A spec names its table in ``metadata["table_name"]`` (phlo-dlt) or ``metadata["table"]`` (Phlo's
publish/observe declarations); a bare name is qualified by the ``namespace_resolver`` of the
spec's provider (``metadata["provider"]``), else by the only registered one.

Example:
    >>> from phlo.capabilities.specs import AssetSpec
    >>> spec = AssetSpec(key="dlt_events", group="raw", description=None,
    ...                  metadata={"table_name": "raw.events"})
    >>> translator = PhloAssetTranslator.from_specs([spec])
    >>> translator.asset_key_for("raw.events")
    AssetKey(['dlt_events'])
    >>> translator.asset_key_for("mart.sales")
    AssetKey(['mart', 'sales'])
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.errors import InvalidIdentifier
from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier

logger = logging.getLogger(__name__)

#: Metadata keys Phlo's providers name a spec's table with, in the order they are read.
TABLE_KEYS = ("table_name", "table")


def phlo_asset_key(key: str) -> dg.AssetKey:
    """The Dagster key phlo-dagster builds for ``AssetSpec.key`` (dots separate the path).

    Example:
        >>> phlo_asset_key("mart.daily_sales")
        AssetKey(['mart', 'daily_sales'])
    """
    return dg.AssetKey(key.split(".")) if "." in key else dg.AssetKey([key])


class PhloAssetTranslator(LakehouseTranslator):
    """Maps tables to the asset keys of the Phlo assets that write them.

    Args:
        keys: table → the asset key Phlo generated for it.
    """

    def __init__(self, keys: Mapping[TableIdentifier, dg.AssetKey]) -> None:
        self.keys = dict(keys)

    def get_asset_key(self, table: TableIdentifier) -> dg.AssetKey:
        """The Phlo asset's key for ``table``, else the default ``[*namespace, table]``."""
        return self.keys.get(table) or super().get_asset_key(table)

    @property
    def tables(self) -> list[str]:
        """The tables Phlo's assets write, sorted."""
        return sorted(str(t) for t in self.keys)

    @classmethod
    def from_specs(
        cls,
        specs: Iterable[Any],
        resolve_namespace: Callable[[Any, str], str | None] | None = None,
    ) -> "PhloAssetTranslator":
        """The translator for Phlo asset specs.

        Args:
            specs: ``phlo.capabilities.specs.AssetSpec`` objects.
            resolve_namespace: qualifies a bare table name for a spec (default: leave it out).
        """
        keys: dict[TableIdentifier, dg.AssetKey] = {}
        for spec in specs:
            table = _table_of(spec, resolve_namespace)
            if table is not None:
                keys.setdefault(table, phlo_asset_key(spec.key))
        return cls(keys)

    @classmethod
    def from_phlo(cls) -> "PhloAssetTranslator":
        """The translator for the asset specs in Phlo's capability registry (no I/O: Phlo's
        discovery has registered them when phlo-dagster builds its definitions)."""
        from phlo.capabilities.registry import get_capability_registry

        return cls.from_specs(get_capability_registry().list("asset"), _namespace_from_phlo)


def _table_of(
    spec: Any, resolve: Callable[[Any, str], str | None] | None
) -> TableIdentifier | None:
    metadata = getattr(spec, "metadata", None) or {}
    name = next((metadata[k] for k in TABLE_KEYS if isinstance(metadata.get(k), str)), None)
    if not name:
        return None
    if "." not in name:
        name = resolve(spec, name) if resolve is not None else None
        if not name:
            return None
    try:
        return parse_table_identifier(name)
    except InvalidIdentifier:
        logger.warning("Phlo asset %s names table %r, which is not an identifier", spec.key, name)
        return None


def _namespace_from_phlo(spec: Any, table: str) -> str | None:
    """``namespace.table`` from the ``namespace_resolver`` of the spec's provider (else the only
    one registered); None when there is none."""
    from phlo.capabilities.resolver import resolve_capability

    provider = (getattr(spec, "metadata", None) or {}).get("provider")
    found = resolve_capability("namespace_resolver", provider) if provider else None
    found = found or resolve_capability("namespace_resolver")
    if found is None:
        return None
    try:
        return str(found.provider.resolve_namespace(table))
    except Exception as error:  # noqa: BLE001 - a provider's resolver is not ours to trust
        logger.warning("namespace_resolver %s failed for %s: %s", found.name, table, error)
        return None
