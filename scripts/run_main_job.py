"""`make run`: seed a fragmented demo table in the embedded lakehouse, run the main job
(``lakehouse_maintenance``: optimize → expire → vacuum) through Dagster, print before/after.

The embedded default lives in ``.lakehouse/`` (or ``$PHLO_LAKEHOUSE_HOME``); the Dagster instance in
``$DAGSTER_HOME``, so the run shows up in ``make dev`` afterwards.
"""

from __future__ import annotations

import sys

import dagster as dg

from phlo_lakehouse import CatalogSettings, IcebergLakehouse, format_size
from phlo_lakehouse.definitions import MAIN_JOB, defs
from phlo_lakehouse.demo import DEMO_TABLE, plant_orphans, seed_demo_table
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.storage.listing import list_storage

#: The demo table's write.target-file-size-bytes. With Iceberg's 512 MB default every file of a
#: demo stays "small" (under 75 % of the target) and the ratio reads 1.00 -> 1.00; at 128 KiB
#: the ~20 KB files the demo starts with are small and the compacted ones are not.
DEMO_TARGET_FILE_SIZE = 128 * 1024


def describe(lakehouse: IcebergLakehouse) -> dict[str, object]:
    handle = lakehouse.get_table(DEMO_TABLE)
    stats = lakehouse.collect_stats(DEMO_TABLE, full=True)
    reachable = reachable_files(handle.table).all()
    stored = list_storage(handle.table.io, handle.table.location())
    return {
        "rows": stats.row_count,
        "data files": stats.file_count,
        "size": format_size(stats.size_bytes or 0),
        "snapshots": stats.snapshot_count,
        "small-file ratio": f"{stats.small_file_ratio:.2f}",
        "orphan files": sum(1 for f in stored if f.path not in reachable),
        "_rows": sorted(r["event_id"] for r in handle.to_arrow().select(["event_id"]).to_pylist()),
    }


def main() -> int:
    lakehouse = IcebergLakehouse(CatalogSettings.from_env())
    print(f"seeding a fragmented {DEMO_TABLE} in the {lakehouse.settings.describe()}")
    handle = seed_demo_table(
        lakehouse,
        DEMO_TABLE,
        commits=30,
        rows_per_commit=8000,
        properties={"write.target-file-size-bytes": str(DEMO_TARGET_FILE_SIZE)},
        replace=True,
    )
    plant_orphans(handle, count=12)
    before = describe(lakehouse)

    run_config = {
        "ops": {
            f"{MAIN_JOB}__select_tables": {
                "config": {"tables": [DEMO_TABLE], "expire": {"older_than": "0s", "retain_last": 1}}
            }
        }
    }
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(MAIN_JOB).execute_in_process(
            run_config=run_config, instance=instance
        )
    if not result.success:
        print(f"{MAIN_JOB} failed", file=sys.stderr)
        return 1
    after = describe(lakehouse)
    print(f"\n{MAIN_JOB} run {result.run_id}: success\n")
    print(f"  {'':18}{'before':>12}{'after':>12}")
    for key in before:
        if not key.startswith("_"):
            print(f"  {key:18}{before[key]!s:>12}{after[key]!s:>12}")
    same = before["_rows"] == after["_rows"]
    print(f"\n  rows unchanged: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
