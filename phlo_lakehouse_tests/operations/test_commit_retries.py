"""Commit retries follow the table's ``commit.retry.*`` properties: attempts counted, waits
measured. Every conflict here is real: another writer commits to the table between the
operation's plan and its commit, so the commit's requirement fails in the catalog."""

from __future__ import annotations

import time
from typing import ClassVar

import pytest

from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.errors import Conflict
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.commit import commit_updates

RETRY = {
    "commit.retry.num-retries": "3",
    "commit.retry.min-wait-ms": "200",
    "commit.retry.max-wait-ms": "500",
}
#: Scheduling slack on a loaded machine (the lower bound is exact: never earlier than asked).
SLACK_S = 1.0


class RacedPropertyChange(TableOperation):
    """Sets a property, but another writer appends between each plan and commit (``races``
    times): the commit's ``AssertRefSnapshotId`` then fails in the catalog."""

    name: ClassVar[str] = "raced_property_change"

    def __init__(self, other_writer, races: int) -> None:
        self.other_writer = other_writer
        self.races = races
        self.commit_times: list[float] = []

    def plan(self, table) -> OperationPlan:
        return OperationPlan(self.name, str(table.identifier), table.ref, table.snapshot_id, {})

    def execute(self, table, plan: OperationPlan) -> OperationResult:
        from pyiceberg.table.update import AssertRefSnapshotId, SetPropertiesUpdate

        if len(self.commit_times) < self.races:
            self.other_writer.refresh().append(demo_rows(10_000 + len(self.commit_times), 1))
        self.commit_times.append(time.monotonic())
        commit_updates(
            table.table,
            [SetPropertiesUpdate(updates={"raced": str(len(self.commit_times))})],
            [AssertRefSnapshotId(ref="main", snapshot_id=plan.snapshot_id)],
        )
        return OperationResult.applied(plan)


@pytest.fixture
def table(lakehouse):
    handle = seed_demo_table(lakehouse, "demo.events", commits=2, properties=RETRY)
    return handle


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_conflicts_are_retried_as_often_and_as_far_apart_as_the_properties_say(lakehouse, table):
    other = lakehouse.get_table("demo.events").table
    operation = RacedPropertyChange(other, races=3)

    result = OperationExecutor(lakehouse).run(operation, "demo.events")

    assert result.attempts == 4 and len(operation.commit_times) == 4
    for gap, base in zip(_gaps(operation.commit_times), (0.2, 0.4, 0.5), strict=True):
        assert base <= gap <= base * 1.1 + SLACK_S, (gap, base)
    assert lakehouse.get_table("demo.events").table.properties["raced"] == "4"


def test_retries_stop_at_num_retries_with_a_conflict(lakehouse, table):
    other = lakehouse.get_table("demo.events").table
    operation = RacedPropertyChange(other, races=10)

    with pytest.raises(Conflict, match="conflicted 4 times") as caught:
        OperationExecutor(lakehouse).run(operation, "demo.events")

    assert len(operation.commit_times) == 4  # 1 + commit.retry.num-retries
    assert "commit.retry.num-retries" in (caught.value.hint or "")
    assert "raced" not in lakehouse.get_table("demo.events").table.properties
