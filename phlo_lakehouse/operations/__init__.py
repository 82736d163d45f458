"""Table operations: optimize (compaction), expire snapshots, vacuum orphans, rewrite manifests.

Every operation is a `TableOperation` (one table) or a `CatalogOperation` (Nessie reference
changes, write-audit-publish publishing, GC, migration) run through `OperationExecutor`.

The names below are loaded on first use (PEP 562): importing this package, or one operation's
module, does not import the others (a command that vacuums never loads the compaction code).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    OPERATION_KINDS: dict[str, type[TableOperation]]

#: Where each public name lives: name -> submodule (loaded on first access).
_EXPORTS = {
    "CatalogOperation": "base",
    "CatalogSource": "base",
    "CatalogTarget": "base",
    "OperationPlan": "base",
    "OperationResult": "base",
    "TableOperation": "base",
    "RemoveDanglingDeletesOperation": "dangling",
    "ExecutionHook": "executor",
    "OperationContext": "executor",
    "OperationExecutor": "executor",
    "resolve_principal": "executor",
    "ExpireSnapshotsOperation": "expire",
    "RewriteManifestsOperation": "manifests",
    "AssignReference": "nessie_refs",
    "CreateReference": "nessie_refs",
    "DeleteReference": "nessie_refs",
    "MergeReference": "nessie_refs",
    "OptimizeOperation": "optimize",
    "RewritePositionDeletesOperation": "position_deletes",
    "PublishOperation": "publish",
    "DataRetentionOperation": "retention",
    "ComputeTableStatsOperation": "table_stats",
    "VacuumOperation": "vacuum",
}

#: Operation kind -> the name of its class in `_EXPORTS` (`OPERATION_KINDS` holds the classes).
_KINDS = {
    "optimize": "OptimizeOperation",
    "expire": "ExpireSnapshotsOperation",
    "vacuum": "VacuumOperation",
    "rewrite_manifests": "RewriteManifestsOperation",
    "remove_dangling_deletes": "RemoveDanglingDeletesOperation",
    "compute_table_stats": "ComputeTableStatsOperation",
    "data_retention": "DataRetentionOperation",
    "rewrite_position_deletes": "RewritePositionDeletesOperation",
}


def operation_for(kind: str, **settings: object) -> TableOperation:
    """The operation of ``kind`` with ``settings`` (validated; no I/O). Only that operation's
    module is imported.

    Example:
        >>> operation_for("vacuum", older_than="7d").name
        'vacuum'
    """
    from phlo_lakehouse.errors import InvalidInput

    if kind not in _KINDS:
        raise InvalidInput(f"unknown operation {kind!r}", hint=", ".join(_KINDS))
    operation: type[TableOperation] = __getattr__(_KINDS[kind])
    return operation(**settings)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first access and keep the value here."""
    if name == "OPERATION_KINDS":
        value: Any = {kind: __getattr__(cls) for kind, cls in _KINDS.items()}
    elif name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        value = getattr(module, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
