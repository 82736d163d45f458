"""Must show 2: property-based tests over random Nessie histories on the real server (S3 on moto).

Each example resets the GC tests' own Nessie and draws a short history — tables created, appended
to, compacted and dropped on random branches, branches and tags made from random refs, merges,
orphans planted in table locations — with one grace split somewhere in it (files written before it
are old), and random per-reference cutoffs (NONE, a number of commits, or an instant between two
steps). A model records, for every commit it makes, the reference chain it lands on and the state it
leaves (table -> metadata location, read back through the Iceberg REST catalog); its live set is
the files of every state at a live commit of any reference (PyIceberg's own readers, see
``oracle.files_of``). After one GC run the files deleted must be exactly
``all files in table locations - the model's live set - files too young``; a second run deletes
nothing; every reference head reads the rows it read before.

``PHLO_GC_PROPERTY_EXAMPLES`` raises the number of histories (default 5: each costs ~20 s).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from phlo_lakehouse.errors import Conflict
from phlo_lakehouse.gc import NessieGCOperation
from phlo_lakehouse_tests.gc.histories import SCHEMA, History
from phlo_lakehouse_tests.gc.oracle import bucket_files, files_of, put

pytestmark = [pytest.mark.nessie, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(1800)]

EXAMPLES = int(os.environ.get("PHLO_GC_PROPERTY_EXAMPLES", "5"))
TABLES = ("t1", "t2", "t3")
BRANCHES = ("b1", "b2")
TAGS = ("v1", "v2")


@dataclass
class Commit:
    hash: str
    step: int
    state: dict[str, str]


@dataclass
class Model:
    """What the test did: each reference's first-parent chain (oldest first) and every table
    location ever created."""

    history: History
    s3: Any
    chains: dict[str, list[Commit]] = field(default_factory=lambda: {"main": []})
    tags: set[str] = field(default_factory=set)
    locations: list[str] = field(default_factory=list)
    appends: dict[tuple[str, str], int] = field(default_factory=dict)
    step: int = 0

    def tables_on(self, ref: str) -> dict[str, str]:
        chain = self.chains[ref]
        return dict(chain[-1].state) if chain else {}

    def committed(self, ref: str) -> None:
        """Record the commit just made on ``ref`` with the state it leaves."""
        lakehouse = self.history.lakehouse
        catalog = lakehouse.catalog(ref)
        state = {
            ".".join(t): catalog.load_table(t).metadata_location
            for t in catalog.list_tables(self.history.namespace)
        }
        head = lakehouse.nessie.get(ref).hash
        if self.chains[ref] and self.chains[ref][-1].hash == head:
            return  # nothing was committed (a merge with nothing to merge)
        self.chains[ref].append(Commit(head, self.step, state))


def _step(model: Model, data: st.DataObject) -> None:
    """One random step among those that can change something on a random branch."""
    h = model.history
    branches = sorted(r for r in model.chains if r not in model.tags)
    ref = data.draw(st.sampled_from(branches), label="branch")
    tables = model.tables_on(ref)
    free = [t for t in TABLES if f"{h.namespace}.{t}" not in tables]
    names = [n for n in BRANCHES + TAGS if n not in model.chains]
    choices = ["create"] * bool(free) * 2 + ["append"] * bool(tables) * 4
    choices += ["compact", "drop", "orphan"] * bool(tables)
    choices += ["branch_or_tag"] * bool(names) * 2 + ["merge"] * (len(branches) > 1) * 2
    action = data.draw(st.sampled_from(choices), label="action")
    if action == "create":
        table = data.draw(st.sampled_from(free), label="table")
        created = h.catalog(ref).create_table(f"{h.namespace}.{table}", schema=SCHEMA)
        model.locations.append(created.location())
        model.committed(ref)
        return
    if action == "branch_or_tag":
        name = data.draw(st.sampled_from(names), label="name")
        (h.tag if name in TAGS else h.branch)(name, ref)
        model.chains[name] = list(model.chains[ref])
        if name in TAGS:
            model.tags.add(name)
        return
    if action == "merge":
        onto = data.draw(st.sampled_from([b for b in branches if b != ref]), label="onto")
        try:
            h.merge(ref, onto=onto)
        except Conflict:
            return
        model.committed(onto)
        return
    key = data.draw(st.sampled_from(sorted(tables)), label="table")
    table = key.split(".", 1)[1]
    if action == "append":
        h.append(ref, table, data.draw(st.integers(1, 4), label="rows"))
        model.committed(ref)
    elif action == "compact":
        if h.lakehouse.optimize_table(key, ref, min_input_files=2).committed:
            model.committed(ref)
    elif action == "drop":
        h.drop(ref, table)
        model.committed(ref)
    else:
        location = h.lakehouse.catalog(ref).load_table(key).location()
        put(model.s3, f"{location}/data/orphan-{model.step}.parquet")


def _cutoff(data: st.DataObject, ref: str, marks: list[datetime]) -> tuple[str, object]:
    """A policy for ``ref``: (text for the GC, (kind, value) for the model). ``marks[i]`` was
    taken after step i finished and before step i + 1 began: as an instant, it makes exactly
    the commits of step i + 1 and later live."""
    # NONE keeps a reference's whole history, and with it much of the others': draw it rarely.
    kind = data.draw(
        st.sampled_from(["commits", "commits", "instant", "instant", "none"]), label=f"cutoff {ref}"
    )
    if kind == "commits":
        n = data.draw(st.integers(1, 3), label=f"commits {ref}")
        return str(n), ("commits", n)
    if kind == "instant":
        step = data.draw(st.integers(0, len(marks) - 1), label=f"instant {ref}")
        return marks[step].isoformat(), ("step", step + 1)
    return "NONE", ("none", None)


def _live(chain: list[Commit], policy: tuple[str, object]) -> list[Commit]:
    """The model's live commits of one chain (oldest first) under ``policy``."""
    kind, value = policy
    newest_first = list(reversed(chain))
    live = []
    for position, commit in enumerate(newest_first, start=1):
        if position == 1 or kind == "none":
            live.append(commit)
        elif kind == "commits" and position <= value:
            live.append(commit)
        elif kind == "step" and commit.step >= value:
            live.append(commit)
        else:
            break
    return live


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_gc_deletes_exactly_all_files_minus_the_live_set_minus_the_young(gc_nessie, s3, data):
    gc_nessie.reset()
    history = History(gc_nessie.lakehouse())
    model = Model(history, s3)
    history.catalog("main")  # the namespace: step 0's commit
    model.committed("main")
    steps = data.draw(st.integers(5, 10), label="steps")
    # The split late more often than not: most of the history old enough to collect.
    split_at = steps - data.draw(st.integers(0, steps) | st.just(0), label="split")
    marks: list[datetime] = []
    split = None
    for index in range(steps):
        if index == split_at:
            split = datetime.now(UTC)  # files written before this are old
            time.sleep(1.2)
        marks.append(datetime.now(UTC))
        model.step = index + 1
        _step(model, data)
    if split is None:
        split = datetime.now(UTC)
        time.sleep(1.2)

    policies = {ref: _cutoff(data, ref, marks) for ref in sorted(model.chains)}
    cutoffs = [f"{re.escape(ref)}={text}" for ref, (text, _) in policies.items()]
    live: set[str] = set()
    for ref, chain in model.chains.items():
        for commit in _live(chain, policies[ref][1]):
            for location in commit.state.values():
                live |= files_of(location, history.lakehouse.settings.properties)
    heads = {ref: _rows(history, ref) for ref in model.chains}
    before = bucket_files(s3, gc_nessie.bucket)

    # The live set "was created" 1 s after the split, with a 1 s grace: delete_before == split.
    def gc():
        now = split + timedelta(seconds=1)
        op = NessieGCOperation(cutoffs=cutoffs, older_than=1, force=True, now=now)
        return history.lakehouse.run_catalog(op, None)

    result = gc()
    after = bucket_files(s3, gc_nessie.bucket)
    expected = {
        uri
        for uri, modified in before.items()
        if any(uri.startswith(loc + "/") for loc in model.locations)
        and uri not in live
        and modified < split
    }
    event(f"deleted {min(len(expected), 20) // 5 * 5}+ files")
    assert set(before) - set(after) == expected
    assert result.figures["deleted"] == len(expected)
    assert gc().figures["deleted"] == 0
    assert {ref: _rows(history, ref) for ref in model.chains} == heads


def _rows(history: History, ref: str) -> dict[str, list[int]]:
    catalog = history.lakehouse.catalog(ref)
    return {
        ".".join(t): sorted(catalog.load_table(t).scan().to_arrow().column("id").to_pylist())
        for t in catalog.list_tables(history.namespace)
    }
