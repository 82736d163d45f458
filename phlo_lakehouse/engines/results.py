"""The output rows of Iceberg's Spark procedures as our `OperationResult`s, with the plan's
figure keys (what Spark does not report comes from the plan and is named in
``details["figures_from_plan"]``).

Example:
    >>> result = result_from_rows(op, plan, before, after, rows)        # doctest: +SKIP
    >>> result.details["engine"]                                        # doctest: +SKIP
    'spark'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.table.metadata import TableMetadata

    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable


def unchanged(plan: OperationPlan, details: Mapping[str, Any]) -> OperationResult:
    """The result of a plan with nothing to do (no procedure was called)."""
    from phlo_lakehouse.operations.base import OperationResult

    return OperationResult.applied(plan, committed=False, details={**plan.details, **details})


def result_from_rows(
    operation: TableOperation,
    before: TableMetadata,
    plan: OperationPlan,
    rows: Sequence[Mapping[str, Any]],
    after: LakehouseTable,
    details: Mapping[str, Any],
) -> OperationResult:
    """The operation's result from the procedure's output ``rows``, the table metadata
    ``before`` the call and the table ``after`` it."""
    from phlo_lakehouse.operations.base import OperationResult

    mapper = {
        "optimize": _optimize_figures,
        "expire": _expire_figures,
        "vacuum": _vacuum_figures,
        "rewrite_manifests": _manifest_figures,
    }[operation.name]
    figures, extra, committed = mapper(plan, rows, before, after)
    from_plan = sorted(k for k in plan.figures if k not in figures)
    figures = {k: figures.get(k, plan.figures[k]) for k in plan.figures}
    return OperationResult.applied(
        plan,
        committed=committed,
        snapshot_id_after=after.snapshot_id,
        figures=figures,
        details={
            **plan.details,
            **extra,
            **details,
            "procedure_output": [dict(r) for r in rows],
            "figures_from_plan": from_plan,
        },
    )


_Mapped = tuple[dict[str, Any], dict[str, Any], bool]


def _optimize_figures(
    plan: OperationPlan, rows: Sequence[Mapping[str, Any]], before: TableMetadata,
    after: LakehouseTable,
) -> _Mapped:  # fmt: skip
    row = rows[0] if rows else {}
    commits = _new_snapshots(after, plan.snapshot_id)
    summaries = [s.summary.additional_properties if s.summary else {} for s in commits]
    # No rows when the procedure's answer was lost and the commit was found by re-reading:
    # the commits' snapshot summaries tell what they replaced.
    replaced = _total(summaries, "deleted-data-files")
    rewritten = int(row.get("rewritten_data_files_count") or replaced)
    figures = {
        "files_to_rewrite": rewritten,
        "bytes_to_rewrite": int(row.get("rewritten_bytes_count") or 0),
        "rows_to_rewrite": _total(summaries, "deleted-records"),
        "expected_output_files": int(
            row.get("added_data_files_count") or _total(summaries, "added-data-files")
        ),
    }
    extra = {
        "rows_written": _total(summaries, "added-records"),
        "bytes_written": _total(summaries, "added-files-size"),
        "delete_files_removed": int(row.get("removed_delete_files_count") or 0),
        "failed_data_files": int(row.get("failed_data_files_count") or 0),
        "commits": len(commits),
    }
    return figures, extra, after.snapshot_id != plan.snapshot_id and rewritten > 0


def _expire_figures(
    plan: OperationPlan, rows: Sequence[Mapping[str, Any]], before: TableMetadata,
    after: LakehouseTable,
) -> _Mapped:  # fmt: skip
    row = rows[0] if rows else {}
    ids_before = {s.snapshot_id for s in before.snapshots}
    ids_after = {s.snapshot_id for s in after.table.metadata.snapshots}
    refs_gone = sorted(set(before.refs) - set(after.table.metadata.refs))
    expired = sorted(ids_before - ids_after)
    figures = {
        "snapshots_to_expire": len(expired),
        "refs_to_remove": len(refs_gone),
        "snapshots_retained": len(ids_after),
        "data_files_to_delete": int(row.get("deleted_data_files_count") or 0),
        "delete_files_to_delete": int(row.get("deleted_position_delete_files_count") or 0)
        + int(row.get("deleted_equality_delete_files_count") or 0),
        "manifests_to_delete": int(row.get("deleted_manifest_files_count") or 0),
        "manifest_lists_to_delete": int(row.get("deleted_manifest_lists_count") or 0),
        "statistics_files_to_delete": int(row.get("deleted_statistics_files_count") or 0),
    }
    extra = {"expired_snapshot_ids": expired, "removed_refs": refs_gone}
    return figures, extra, bool(expired or refs_gone)


def _vacuum_figures(
    plan: OperationPlan, rows: Sequence[Mapping[str, Any]], before: TableMetadata,
    after: LakehouseTable,
) -> _Mapped:  # fmt: skip
    from phlo_lakehouse.storage.listing import normalize_location

    planned = {normalize_location(p): p for p in plan.details.get("orphan_files", [])}
    sizes: Mapping[str, int] = plan.details.get("orphan_file_sizes", {})
    deleted = [str(r["orphan_file_location"]) for r in rows]
    ours = sorted(planned.get(normalize_location(p), p) for p in deleted)
    unplanned = sorted(p for p in deleted if normalize_location(p) not in planned)
    figures = {"orphan_files": len(ours), "orphan_bytes": sum(int(sizes.get(p, 0)) for p in ours)}
    extra: dict[str, Any] = {
        "orphan_files": ours,
        "orphan_file_sizes": {p: int(sizes.get(p, 0)) for p in ours},
    }
    if unplanned:  # orphaned and aged past the cutoff between the plan and the call
        extra["not_in_plan"] = unplanned
    return figures, extra, False


def _manifest_figures(
    plan: OperationPlan, rows: Sequence[Mapping[str, Any]], before: TableMetadata,
    after: LakehouseTable,
) -> _Mapped:  # fmt: skip
    row = rows[0] if rows else {}
    commits = _new_snapshots(after, plan.snapshot_id)
    rewritten = int(row.get("rewritten_manifests_count") or 0)
    figures: dict[str, Any] = {
        "manifests_to_rewrite": rewritten,
        "expected_manifests": int(row.get("added_manifests_count") or 0),
    }
    extra: dict[str, Any] = {"commits": len(commits)}
    if commits:
        from pyiceberg.manifest import ManifestContent

        # Spark's summary counts no entries ("entries-processed" stays 0): the manifests it
        # wrote say how many entries they hold.
        head = commits[-1]
        manifests = head.manifests(after.table.io)
        written = [m for m in manifests if m.added_snapshot_id == head.snapshot_id]
        figures["entries_to_rewrite"] = sum(_entry_count(m) for m in written)
        figures["delete_manifests_kept"] = sum(
            1 for m in manifests if m.content != ManifestContent.DATA
        )
        extra["manifests_written"] = sorted(m.manifest_path for m in written)
    return figures, extra, after.snapshot_id != plan.snapshot_id and rewritten > 0


def _new_snapshots(after: LakehouseTable, since: int | None) -> list[Any]:
    """Snapshots on the ref after ``since`` up to its head, oldest first (as far as the metadata
    keeps them: Nessie's catalog keeps only the head)."""
    chain: list[Any] = []
    snapshot = after.snapshot
    while snapshot is not None and snapshot.snapshot_id != since:
        chain.append(snapshot)
        parent = snapshot.parent_snapshot_id
        if parent is None or parent == since:
            break
        snapshot = after.table.snapshot_by_id(parent)
    return list(reversed(chain))


def _entry_count(manifest: Any) -> int:
    counts = (
        manifest.added_files_count,
        manifest.existing_files_count,
        manifest.deleted_files_count,
    )
    return sum(n or 0 for n in counts)


def _total(summaries: Iterable[Mapping[str, str]], key: str) -> int:
    return sum(int(s.get(key, 0) or 0) for s in summaries)
