"""The embedded default Definitions that ``workspace.yaml`` loads.

The catalog comes from the environment (`CatalogSettings.from_env`): with nothing set, the
embedded SQLite catalog in ``.lakehouse/``. Building these definitions does no I/O; tables are
resolved inside the op at run time.
"""

import dagster as dg

from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.lakehouse import IcebergLakehouse


class TableStatsConfig(dg.Config):
    """Run config of the stats job."""

    tables: list[str] = ["*.*"]
    ref: str | None = None
    full: bool = True


@dg.op(description="Collect statistics for the selected tables and record them as observations.")
def table_stats(context: dg.OpExecutionContext, config: TableStatsConfig) -> list[dict]:
    lakehouse = IcebergLakehouse(CatalogSettings.from_env())
    results = []
    for ident in lakehouse.resolve_tables(config.tables, config.ref):
        stats = lakehouse.collect_stats(ident, config.ref, full=config.full)
        results.append(stats.to_dict())
        context.log_event(
            dg.AssetObservation(
                asset_key=dg.AssetKey([*ident.namespace, ident.name]),
                metadata={
                    "dagster/row_count": stats.row_count or 0,
                    "file_count": stats.file_count or 0,
                    "size_bytes": stats.size_bytes or 0,
                    "snapshot_count": stats.snapshot_count,
                },
            )
        )
        context.log.info(f"{ident}: {stats.row_count} rows in {stats.file_count} files")
    return results


@dg.job(description="Report table statistics for the selected tables.")
def lakehouse_stats() -> None:
    table_stats()


defs = dg.Definitions(jobs=[lakehouse_stats])
