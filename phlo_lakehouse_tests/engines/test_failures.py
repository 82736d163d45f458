"""How Spark's failures reach the caller: commit conflicts become `Conflict` (the executor plans
again), other failures one-line `OperationFailed` errors. The session stands in for Spark here:
what is under test is the classification of the errors Spark raises, with the messages Iceberg
and Spark Connect put in them."""

from __future__ import annotations

import pytest

from phlo_lakehouse import Conflict, OperationFailed
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.engines import SparkEngine
from phlo_lakehouse.engines.spark_session import ICEBERG_EXTENSIONS
from phlo_lakehouse.errors import CommitStateUnknown
from phlo_lakehouse.operations import OptimizeOperation


class _Conf:
    def __init__(self) -> None:
        self.values = {"spark.sql.extensions": ICEBERG_EXTENSIONS}

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


class FailingSession:
    """A session whose every statement fails with ``message``; records the statements."""

    def __init__(self, message: str) -> None:
        self.conf = _Conf()
        self.message = message
        self.statements: list[str] = []

    def sql(self, statement: str):
        self.statements.append(statement)
        raise RuntimeError(self.message)


@pytest.fixture
def table(lakehouse):
    return seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=10)


def test_commit_conflicts_make_the_executor_plan_again(lakehouse, table):
    session = FailingSession(
        "[INTERNAL_ERROR] org.apache.iceberg.exceptions.ValidationException: Cannot commit, "
        "found new delete for replaced data file\n\tat org.apache.iceberg..."
    )
    engine = SparkEngine(lakehouse.settings, session=session)
    with pytest.raises(Conflict, match="conflicted 5 times"):
        lakehouse.run(OptimizeOperation(), "demo.events", engine=engine)
    # planned and called again after each conflict: commit.retry.num-retries (default 4) + 1
    assert len(session.statements) == 5
    assert session.conf.values["spark.sql.catalog.lakehouse.type"] == "jdbc"


def test_an_unknown_commit_state_is_never_a_conflict(lakehouse, table):
    session = FailingSession(
        "[INTERNAL_ERROR] org.apache.iceberg.exceptions.CommitStateUnknownException: "
        "Service failed: 504\n\tat org.apache.iceberg..."
    )
    engine = SparkEngine(lakehouse.settings, session=session)
    with pytest.raises(CommitStateUnknown, match="outcome is unknown") as caught:
        lakehouse.run(OptimizeOperation(), "demo.events", engine=engine)
    assert len(session.statements) == 1  # not re-planned: the first commit may have landed
    assert caught.value.hint and "nothing was deleted" in caught.value.hint


def test_other_failures_are_one_line_with_a_hint(lakehouse, table):
    session = FailingSession(
        "\n[UNRESOLVED_ROUTINE] Cannot resolve function `rewrite_data_files`\nJVM stacktrace: ..."
    )
    engine = SparkEngine(lakehouse.settings, session=session)
    with pytest.raises(OperationFailed) as caught:
        lakehouse.run(OptimizeOperation(), "demo.events", engine=engine)
    assert caught.value.message == (
        "optimize of demo.events failed on Spark: [UNRESOLVED_ROUTINE] Cannot resolve function "
        "`rewrite_data_files`"
    )
    assert caught.value.hint and "\n" not in str(caught.value)
    assert lakehouse.get_table("demo.events").snapshot_id == table.snapshot_id
