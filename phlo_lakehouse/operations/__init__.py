"""Table operations: optimize (compaction), expire snapshots, vacuum orphans, rewrite manifests.

Every operation is a `TableOperation` run through `OperationExecutor`.
"""

from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.executor import (
    ExecutionHook,
    OperationContext,
    OperationExecutor,
    resolve_principal,
)

__all__ = [
    "ExecutionHook",
    "OperationContext",
    "OperationExecutor",
    "OperationPlan",
    "OperationResult",
    "TableOperation",
    "resolve_principal",
]
