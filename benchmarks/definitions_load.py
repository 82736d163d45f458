"""Benchmark: the Dagster definitions for 500 tables load about as fast as for 1, with no I/O.

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

Goals (exit status 1 if any fails): median(N=500) - median(N=1) <= 1 s; zero connection events;
the lakehouse home was not created. A control step then opens the catalog with the same hook on,
to show the hook does see a catalog connection.

Usage:
    .venv/bin/python benchmarks/definitions_load.py [--tables 500] [--repeat 5] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
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


def _medians(samples: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "build": statistics.median(b for b, _ in samples),
        "resolve": statistics.median(r for _, r in samples),
        "total": statistics.median(b + r for b, r in samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds N tables may add")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="phlo-defs-bench-")) / "lakehouse-never-opened"
    for key in [k for k in os.environ if k.startswith(("PHLO_LAKEHOUSE_", "NESSIE_", "MINIO_"))]:
        del os.environ[key]
    os.environ["PHLO_LAKEHOUSE_HOME"] = str(home)

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
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

    failures = []
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
