"""``get_inventory()`` of our executors: each table with its stats and maintenance state.

``phlo operations maintenance inventory`` calls every executor's ``get_inventory()`` and lists
the entries together, so each of ours describes its own operation: ``due`` (a plan now would do
something, with its figures), ``ok`` (nothing to do), ``blocked`` (the configured settings are
refused, e.g. retention under 168 hours) or ``error`` (the table could not be read). Stats come
from the snapshot summary (O(1)); the state is the operation's own plan, read only — nothing
runs through the executor, so an inventory writes no telemetry and no audit records.

Example:
    >>> from phlo_lakehouse.phlo_adapter.executors import CompactExecutor
    >>> inventory(CompactExecutor())[0]["state"]                       # doctest: +SKIP
    'due'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import RetentionFloorViolation
from phlo_lakehouse.phlo_adapter import requests
from phlo_lakehouse.phlo_adapter.results import failure_of, has_work

if TYPE_CHECKING:
    from phlo_lakehouse.phlo_adapter.executors import LakehouseMaintenanceExecutor
    from phlo_lakehouse.table import LakehouseTable


def inventory(executor: LakehouseMaintenanceExecutor) -> list[dict[str, Any]]:
    """The entries for ``executor``'s operation, one per table on its default ref; a failure is
    an entry (state ``error``), never an exception."""
    try:
        lakehouse = executor.lakehouse()
        ref = executor.default_ref
        tables = lakehouse.list_tables(None, ref)
    except Exception as error:  # noqa: BLE001 - a failure is an entry
        ref = executor.bound_ref or "main"
        return [_entry(executor, "*", ref, "error", failure=failure_of(error))]
    return [_table_entry(executor, str(table), ref) for table in tables]


def _table_entry(executor: LakehouseMaintenanceExecutor, name: str, ref: str) -> dict[str, Any]:
    from phlo_lakehouse.metadata import MetadataCollector

    try:
        table = executor.lakehouse().get_table(name, ref)
        stats = MetadataCollector().collect(table)
    except Exception as error:  # noqa: BLE001 - a failure is an entry
        return _entry(executor, name, ref, "error", failure=failure_of(error))
    summary = {
        "snapshot_id": stats.snapshot_id,
        "rows": stats.row_count,
        "data_files": stats.file_count,
        "delete_files": stats.delete_file_count,
        "size_bytes": stats.size_bytes,
        "snapshots": stats.snapshot_count,
        "last_modified": stats.last_modified.isoformat() if stats.last_modified else None,
        "target_file_size": stats.target_file_size,
    }
    try:
        figures = _plan_figures(executor, table)
    except RetentionFloorViolation as error:
        return _entry(executor, name, ref, "blocked", stats=summary, failure=failure_of(error))
    except Exception as error:  # noqa: BLE001 - a failure is an entry
        return _entry(executor, name, ref, "error", stats=summary, failure=failure_of(error))
    state = "due" if has_work(executor.operation, figures) else "ok"
    return _entry(executor, name, ref, state, stats=summary, plan=figures)


def _plan_figures(executor: LakehouseMaintenanceExecutor, table: LakehouseTable) -> dict[str, Any]:
    env = executor.env
    if executor.operation == "compact":
        settings = requests.compact_settings(env)
    else:
        # The file figures need every manifest; the inventory counts snapshots and refs only.
        settings = {**requests.expiry_settings(env, nessie=table.nessie), "delete_files": False}
    plan = requests.build_operation(executor.operation, settings).plan(table)
    if executor.operation == "snapshot_expiry":
        requests.check_retention_floor(table, plan)
        return {k: plan.figures[k] for k in ("snapshots_to_expire", "refs_to_remove")}
    return dict(plan.figures)


def _entry(
    executor: LakehouseMaintenanceExecutor, name: str, ref: str, state: str, **fields: Any
) -> dict[str, Any]:
    return {
        "table_name": name,
        "ref": ref,
        "provider": "phlo-lakehouse",
        "operation": executor.operation,
        "state": state,
        **fields,
    }
