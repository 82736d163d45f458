"""The GC's reference history on a real Nessie (Must show 1): three branches besides main, two
tags, a merge, a compaction on a branch, a table dropped on main but alive on a branch, a table
dropped everywhere, and planted orphans (old and young, inside tables, hidden, and outside every
table location). Shared by the PyIceberg test (``test_scenario.py``) and the Spark test
(``integration/test_nessie_gc_spark.py``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from phlo_lakehouse_tests.gc.histories import History
from phlo_lakehouse_tests.gc.oracle import Policy, put

#: The cutoffs the scenario's GC runs with, and the same policies as the oracle states them.
CUTOFFS = ("2", "main=3", "v.*=1")


def policy_for(ref: str) -> Policy:
    if re.fullmatch("v.*", ref):
        return Policy(commits=1)
    if ref == "main":
        return Policy(commits=3)
    return Policy(commits=2)


@dataclass
class Scenario:
    history: History
    bucket: str
    old_orphans: list[str] = field(default_factory=list)
    young_orphans: list[str] = field(default_factory=list)
    hidden_orphans: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def build(history: History, s3: Any, bucket: str) -> Scenario:
    """Write the history and plant the old orphans (`plant_young` plants the young one)."""
    scenario = Scenario(history, bucket)
    h = history
    a = h.create("main", "events", batches=2)
    b = h.create("main", "users", batches=1)
    h.create("main", "orders", batches=1)
    # Orphans a failed writer left long ago (the grace period is measured from the GC's start).
    scenario.old_orphans = [f"{a}/data/failed-writer-0.parquet", f"{b}/metadata/stale.avro"]
    scenario.hidden_orphans = [f"{a}/data/_temporary/part-0.parquet", f"{a}/.trash/x.parquet"]
    scenario.outside = [f"s3://{bucket}/elsewhere/untracked.parquet", f"{a}-sibling/data/x.parquet"]
    for uri in scenario.old_orphans + scenario.hidden_orphans + scenario.outside:
        put(s3, uri)
    h.tag("v1", "main")
    h.branch("dev", "main")
    h.append("dev", "events", 3)
    h.append("dev", "events", 3)
    h.tag("v2", "dev")
    h.compact("dev", "events")
    h.branch("etl", "main")
    h.append("etl", "users", 4)
    h.merge("etl", onto="main")
    h.branch("exp", "main")
    h.create("exp", "scratch", batches=2)
    h.drop("main", "users")  # alive on dev, etl, exp and v1
    h.create("main", "temp", batches=2)
    scenario.old_orphans.append(f"{h.locations['temp'][0]}/data/abandoned.parquet")
    put(s3, scenario.old_orphans[-1])
    h.drop("main", "temp")  # only main ever had it: dropped everywhere
    for _ in range(3):
        h.append("main", "events", 2)  # the drops fall past main's cutoff (3 commits)
    time.sleep(2.5)  # everything so far is older than the GC's 2 s grace period
    return scenario


def plant_young(scenario: Scenario, s3: Any) -> None:
    """A file of a write still in flight: plant it right before the GC starts."""
    young = f"{scenario.history.locations['events'][0]}/data/in-flight-writer.parquet"
    put(s3, young)
    scenario.young_orphans = [young]
