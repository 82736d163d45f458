"""Benchmark: the Dagster definitions for 5,000 tables load about as fast as for 1, with no I/O,
and the auto-maintenance sensor's tick over 5,000 tables fits Dagster's tick budget.

Builds, for N tables, what a code location loads: ``lakehouse_maintenance_definitions`` (five
jobs, two schedules), ``table_stats_checks`` for the N tables, the auto-maintenance sensor and the
resources — then resolves the repository (``Definitions.get_repository_def()``, what a code server
does on load). Everything is imported and one small build is done before timing, so imports and
Dagster's lazy first-use imports are excluded; N=1 and N=500 then alternate for ``--repeat`` rounds
and the medians are compared.

No catalog may be contacted while definitions are built: a ``sys.addaudithook`` hook counts every
``socket.connect``/``socket.getaddrinfo``/``sqlite3.connect``/``subprocess.Popen`` audit event, and
the resource points at an embedded lakehouse home that must still not exist afterwards (opening
the embedded catalog would create it).

Sensor tick: an embedded lakehouse (SQLite catalog) with ``--sensor-tables`` tables, each with
one snapshot and its own metadata file (built once under ``benchmarks/.work/definitions_load``:
one seeded table, whose metadata file is copied and registered under every other name). One tick
of ``auto_maintenance_sensor(tables=["*.*"])`` is evaluated with a fresh resource, as the
daemon does: list the tables, read each table's O(1) stats, decide. It must evaluate every table
(its skip reason says how many) within ``--tick-goal`` seconds; Dagster cancels a tick at 60 s.

Goals (exit status 1 if any fails): median(N=5,000) - median(N=1) <= 2 s; zero connection
events; the lakehouse home was not created; one sensor tick over 5,000 tables <= 30 s. A control
step opens the catalog with the same hook on, to show the hook does see a catalog connection.

Usage:
    .venv/bin/python benchmarks/definitions_load.py [--tables 5000] [--repeat 5] [--budget 2.0]
        [--sensor-tables 5000] [--tick-goal 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from phlo_lakehouse.dagster import (
    LakehouseResource,
    MaintenanceSchedule,
    MetadataResource,
    lakehouse_maintenance_definitions,
)
from phlo_lakehouse.dagster.checks import StatsThresholds, table_stats_checks
from phlo_lakehouse.dagster.sensors import auto_maintenance_sensor

WATCHED_EVENTS = ("socket.connect", "socket.getaddrinfo", "sqlite3.connect", "subprocess.Popen")
NAMESPACES = 10
SENSOR_WORK = Path(__file__).resolve().parent / ".work" / "definitions_load"


class ConnectionAudit:
    """Counts connection-like audit events while ``recording`` (audit hooks cannot be removed)."""

    def __init__(self) -> None:
        self.recording = False
        self.events: list[tuple[str, str]] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if self.recording and event in WATCHED_EVENTS:
            self.events.append((event, repr(args)[:120]))


def table_names(count: int) -> list[str]:
    return [f"ns{i % NAMESPACES}.table_{i:05d}" for i in range(count)]


def build(count: int) -> tuple[float, float, dg.Definitions]:
    """Seconds to build the definitions for ``count`` tables and to resolve the repository."""
    start = time.perf_counter()
    tables = table_names(count)
    maintenance = lakehouse_maintenance_definitions(
        tables=tables,
        optimize={"target_file_size": "128MB"},
        expire={"older_than": "5d", "retain_last": 3},
        schedules=[
            MaintenanceSchedule("lakehouse_expire", "0 2 * * *", default_status="RUNNING"),
            MaintenanceSchedule("lakehouse_vacuum", "0 3 * * 0"),
        ],
    )
    lakehouse = LakehouseResource()
    defs = dg.Definitions.merge(
        maintenance,
        dg.Definitions(
            asset_checks=table_stats_checks(
                tables=tables, thresholds=StatsThresholds(max_snapshots=50)
            ),
            sensors=[auto_maintenance_sensor(maintenance=maintenance, tables=tables)],
            resources={
                "lakehouse": lakehouse,
                "lakehouse_metadata": MetadataResource(lakehouse=lakehouse),
            },
        ),
    )
    built = time.perf_counter()
    repository = defs.get_repository_def()
    resolved = time.perf_counter()
    assert len(repository.asset_graph.asset_check_keys) == count
    assert repository.has_job("lakehouse_maintenance")
    return built - start, resolved - built, defs


def sensor_lakehouse(count: int) -> Path:
    """An embedded lakehouse home with ``count`` one-snapshot tables (built once, then reused)."""
    import pyarrow as pa

    from phlo_lakehouse import CatalogSettings, IcebergLakehouse

    home = SENSOR_WORK / f"tables-{count}"
    if (home / "ready").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(home))
    catalog = lakehouse.catalog()
    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "kind": pa.array(["a", "b", "c"])})
    for ns in range(NAMESPACES):
        catalog.create_namespace(f"ns{ns}")
    names = table_names(count)
    seed = catalog.create_table(names[0], schema=rows.schema)
    seed.append(rows)
    source = Path(seed.metadata_location.removeprefix("file://"))
    copies = home / "metadata-copies"
    copies.mkdir()
    for name in names[1:]:
        target = copies / f"{name}.metadata.json"
        shutil.copyfile(source, target)
        catalog.register_table(name, f"file://{target}")
    (home / "ready").write_text(str(count))
    return home


def sensor_tick(count: int) -> tuple[float, str]:
    """Seconds of one sensor tick over ``count`` tables, and what the tick reported."""
    home = sensor_lakehouse(count)
    maintenance = lakehouse_maintenance_definitions(tables=["*.*"])
    sensor = auto_maintenance_sensor(maintenance=maintenance, tables=["*.*"])
    resource = LakehouseResource(home=str(home))
    start = time.perf_counter()
    with dg.build_sensor_context(resources={"lakehouse": resource}) as context:
        result = sensor.evaluate_tick(context)
    seconds = time.perf_counter() - start
    reason = result.skip_message or f"{len(result.run_requests)} run request(s)"
    return seconds, reason


def _medians(samples: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "build": statistics.median(b for b, _ in samples),
        "resolve": statistics.median(r for _, r in samples),
        "total": statistics.median(b + r for b, r in samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds N tables may add")
    parser.add_argument("--sensor-tables", type=int, default=5000)
    parser.add_argument("--tick-goal", type=float, default=30.0, help="seconds one tick may take")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="phlo-defs-bench-")) / "lakehouse-never-opened"
    for key in [k for k in os.environ if k.startswith(("PHLO_LAKEHOUSE_", "NESSIE_", "MINIO_"))]:
        del os.environ[key]
    os.environ["PHLO_LAKEHOUSE_HOME"] = str(home)

    audit = ConnectionAudit()
    audit.recording = True
    build(1)  # warm-up: Dagster's lazy imports and first-use caches, excluded from the figures
    samples: dict[int, list[tuple[float, float]]] = {1: [], args.tables: []}
    for _ in range(args.repeat):  # alternate, so drift affects both sizes alike
        for count in samples:
            built, resolved, _ = build(count)
            samples[count].append((built, resolved))
    audit.recording = False
    one, many = (_medians(samples[count]) for count in (1, args.tables))
    delta = many["total"] - one["total"]

    print(f"definitions load: {args.repeat} alternating rounds, medians, imports excluded")
    print(f"  {'tables':>8} {'build':>10} {'resolve':>10} {'total':>10}")
    for count, figures in ((1, one), (args.tables, many)):
        print(
            f"  {count:>8} {figures['build'] * 1000:>8.1f}ms {figures['resolve'] * 1000:>8.1f}ms"
            f" {figures['total'] * 1000:>8.1f}ms"
        )
    print(f"  extra cost of {args.tables} tables: {delta * 1000:.1f} ms (budget {args.budget} s)")
    during_build = list(audit.events)
    home_created = home.exists()
    print(f"  connection audit events ({', '.join(WATCHED_EVENTS)}): {len(during_build)}")
    for event, detail in during_build[:10]:
        print(f"    {event} {detail}")
    print(f"  lakehouse home created: {home_created}")

    # Control: the same hook does see a catalog being opened.
    audit.events.clear()
    audit.recording = True
    LakehouseResource().get_lakehouse().list_namespaces()
    audit.recording = False
    control = sorted({event for event, _ in audit.events})
    print(
        f"  control, open the catalog and list namespaces: {len(audit.events)} event(s)"
        f" ({', '.join(control)})"
    )
    shutil.rmtree(home.parent, ignore_errors=True)

    tick_seconds, evaluated = sensor_tick(args.sensor_tables)
    print(
        f"sensor tick over {args.sensor_tables} tables (embedded SQLite catalog, fresh resource):"
        f" {tick_seconds:.2f} s, {evaluated} (goal {args.tick_goal} s; Dagster's limit 60 s)"
    )

    failures = []
    if tick_seconds > args.tick_goal:
        failures.append(f"the sensor tick took {tick_seconds:.2f} s (> {args.tick_goal} s)")
    if f"evaluated {args.sensor_tables} of {args.sensor_tables} table(s)" not in evaluated:
        failures.append(f"the tick did not evaluate every table: {evaluated}")
    if delta > args.budget:
        failures.append(f"{args.tables} tables cost {delta:.3f} s more than 1 (> {args.budget} s)")
    if during_build:
        failures.append(f"{len(during_build)} connection event(s) while building definitions")
    if home_created:
        failures.append(f"the lakehouse home {home} was created (the catalog was opened)")
    if "sqlite3.connect" not in control:
        failures.append("control: the audit hook did not see the catalog being opened")
    for failure in failures:
        print(f"  FAIL: {failure}")
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
