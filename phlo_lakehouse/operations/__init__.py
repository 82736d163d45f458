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
from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation
from phlo_lakehouse.operations.manifests import RewriteManifestsOperation
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.operations.vacuum import VacuumOperation

__all__ = [
    "ExecutionHook",
    "ExpireSnapshotsOperation",
    "OptimizeOperation",
    "RewriteManifestsOperation",
    "OperationContext",
    "OperationExecutor",
    "OperationPlan",
    "OperationResult",
    "TableOperation",
    "VacuumOperation",
    "resolve_principal",
]
