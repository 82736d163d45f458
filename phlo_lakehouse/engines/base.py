"""The local engine (the `Engine` protocol itself is the executor's, in
`phlo_lakehouse.operations.base`).

Example:
    >>> LocalEngine().name
    'local'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phlo_lakehouse.operations.base import Engine

if TYPE_CHECKING:
    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable


class LocalEngine:
    """Runs operations in this process (PyIceberg + pyarrow)."""

    name = "local"

    def execute(
        self, operation: TableOperation, table: LakehouseTable, plan: OperationPlan
    ) -> OperationResult:
        return operation.execute(table, plan)


__all__ = ["Engine", "LocalEngine"]
