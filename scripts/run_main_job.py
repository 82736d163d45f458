"""`make run`: seed the demo table in the embedded lakehouse and run the main job through Dagster.

Prints the statistics the job reports. The embedded default lives in ``.lakehouse/`` (or
``$PHLO_LAKEHOUSE_HOME``); the Dagster instance in ``$DAGSTER_HOME``.
"""

from __future__ import annotations

import sys

import dagster as dg

from phlo_lakehouse import CatalogSettings, IcebergLakehouse, format_size
from phlo_lakehouse.demo import DEMO_TABLE, seed_demo_table
from phlo_lakehouse.definitions import defs

MAIN_JOB = "lakehouse_stats"


def main() -> int:
    lakehouse = IcebergLakehouse(CatalogSettings.from_env())
    print(f"seeding {DEMO_TABLE} in the {lakehouse.settings.describe()}")
    seed_demo_table(lakehouse, DEMO_TABLE, commits=12, rows_per_commit=500, replace=True)

    job = defs.resolve_job_def(MAIN_JOB)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance)
    if not result.success:
        print(f"{MAIN_JOB} failed", file=sys.stderr)
        return 1
    print(f"\n{MAIN_JOB} run {result.run_id}: success")
    for stats in result.output_for_node("table_stats"):
        print(
            f"  {stats['identifier']}@{stats['ref']}: {stats['row_count']} rows, "
            f"{stats['file_count']} data files ({format_size(stats['size_bytes'])}), "
            f"{stats['partition_count']} partitions, {stats['snapshot_count']} snapshots, "
            f"small-file ratio {stats['small_file_ratio']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
