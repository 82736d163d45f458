"""Table operations: optimize (compaction), expire snapshots, vacuum orphans, rewrite manifests.

Every operation is a `TableOperation` (one table) or a `CatalogOperation` (Nessie reference
changes, write-audit-publish publishing, GC, migration) run through `OperationExecutor`.
"""

from phlo_lakehouse.operations.base import (
    CatalogOperation,
    CatalogSource,
    CatalogTarget,
    OperationPlan,
    OperationResult,
    TableOperation,
)
from phlo_lakehouse.operations.dangling import RemoveDanglingDeletesOperation
from phlo_lakehouse.operations.executor import (
    ExecutionHook,
    OperationContext,
    OperationExecutor,
    resolve_principal,
)
from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation
from phlo_lakehouse.operations.manifests import RewriteManifestsOperation
from phlo_lakehouse.operations.nessie_refs import (
    AssignReference,
    CreateReference,
    DeleteReference,
    MergeReference,
)
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.operations.position_deletes import RewritePositionDeletesOperation
from phlo_lakehouse.operations.publish import PublishOperation
from phlo_lakehouse.operations.retention import DataRetentionOperation
from phlo_lakehouse.operations.table_stats import ComputeTableStatsOperation
from phlo_lakehouse.operations.vacuum import VacuumOperation

#: Operation kinds by name, as used in Dagster run config and the CLI.
OPERATION_KINDS = {
    "optimize": OptimizeOperation,
    "expire": ExpireSnapshotsOperation,
    "vacuum": VacuumOperation,
    "rewrite_manifests": RewriteManifestsOperation,
    "remove_dangling_deletes": RemoveDanglingDeletesOperation,
    "compute_table_stats": ComputeTableStatsOperation,
    "data_retention": DataRetentionOperation,
    "rewrite_position_deletes": RewritePositionDeletesOperation,
}


def operation_for(kind: str, **settings: object) -> TableOperation:
    """The operation of ``kind`` with ``settings`` (validated; no I/O).

    Example:
        >>> operation_for("vacuum", older_than="7d").name
        'vacuum'
    """
    from phlo_lakehouse.errors import InvalidInput

    if kind not in OPERATION_KINDS:
        raise InvalidInput(f"unknown operation {kind!r}", hint=", ".join(OPERATION_KINDS))
    return OPERATION_KINDS[kind](**settings)


__all__ = [
    "AssignReference",
    "CreateReference",
    "DeleteReference",
    "MergeReference",
    "PublishOperation",
    "CatalogOperation",
    "CatalogSource",
    "CatalogTarget",
    "OPERATION_KINDS",
    "operation_for",
    "ComputeTableStatsOperation",
    "DataRetentionOperation",
    "ExecutionHook",
    "ExpireSnapshotsOperation",
    "OptimizeOperation",
    "RewriteManifestsOperation",
    "OperationContext",
    "OperationExecutor",
    "OperationPlan",
    "OperationResult",
    "RemoveDanglingDeletesOperation",
    "RewritePositionDeletesOperation",
    "TableOperation",
    "VacuumOperation",
    "resolve_principal",
]
