"""The engine interface and the local engine.

Example:
    >>> LocalEngine().name
    'local'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable


@runtime_checkable
class Engine(Protocol):
    """Carries out an operation's plan on a table."""

    name: str

    def execute(
        self, operation: TableOperation, table: LakehouseTable, plan: OperationPlan
    ) -> OperationResult:
        """Execute ``plan``; raise `Conflict` when the table moved in a way the plan cannot
        absorb."""
        ...


class LocalEngine:
    """Runs operations in this process (PyIceberg + pyarrow)."""

    name = "local"

    def execute(
        self, operation: TableOperation, table: LakehouseTable, plan: OperationPlan
    ) -> OperationResult:
        return operation.execute(table, plan)
