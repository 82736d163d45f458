"""What a maintenance step tells a person: a one-line description, typed metadata with readable
sizes beside raw bytes, and a short markdown summary.

A real run reports an `AssetObservation` on the table's asset; its description names the
operation and what happened ("vacuum: deleted 12 orphan files, 21.9 KiB") and its figures say
what was deleted, rewritten or added. A dry run reports the same, phrased as a preview
("dry run: vacuum would delete 12 orphan files, 21.9 KiB; nothing changed"), only on the step's
output: a preview is never recorded as the table's latest state.

Each operation kind has one describer in `DESCRIBERS`; a kind without one gets a generic line.

Example:
    >>> from phlo_lakehouse.operations.base import OperationResult
    >>> result = OperationResult(
    ...     operation="vacuum", table="raw.events", ref="main", dry_run=False, committed=False,
    ...     snapshot_id_before=1, snapshot_id_after=1,
    ...     figures={"files_listed": 40, "orphan_files": 12, "orphan_bytes": 22387,
    ...              "prefix_mismatches": 0})
    >>> describe(result).headline
    'vacuum: deleted 12 orphan files, 21.9 KiB'
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from phlo_lakehouse.operations.base import OperationResult
from phlo_lakehouse.units import format_size

if TYPE_CHECKING:
    from phlo_lakehouse.metadata import TableMetadata

#: Stats shown before and after an operation (all whole numbers; ``size_bytes`` in bytes).
STAT_FIGURES = ("row_count", "file_count", "delete_file_count", "size_bytes", "snapshot_count")


@dataclass(frozen=True)
class Outcome:
    """What one operation did (or would do), in words and figures.

    Attributes:
        headline: one line, e.g. "optimize: rewrote 100 files (329.3 KiB) into 4 (12.1 KiB)".
        figures: whole-number outcomes by name; names ending in ``_bytes`` are sizes.
        changed: True when the table or its storage changed.
    """

    headline: str
    figures: Mapping[str, int] = field(default_factory=dict)
    changed: bool = False


def _n(figures: Mapping[str, Any], key: str) -> int:
    return int(figures.get(key) or 0)


def _written(result: OperationResult, listed: str, planned: str) -> int:
    """How many were written: the list in the result's details, else the plan's figure."""
    written = result.details.get(listed)
    return len(written) if isinstance(written, list) else _n(result.figures, planned)


def _files(count: int, noun: str = "file") -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _optimize(result: OperationResult) -> Outcome:
    f, d = result.figures, result.details
    figures = {
        "files_rewritten": _n(f, "files_to_rewrite"),
        "files_added": _written(result, "files_written", "expected_output_files"),
        "rows_rewritten": int(d.get("rows_written") or f.get("rows_to_rewrite") or 0),
        "rewritten_bytes": _n(f, "bytes_to_rewrite"),
        "file_groups": _n(f, "file_groups"),
        "delete_files_applied": len(d.get("delete_files_removed") or [])
        if not result.dry_run
        else _n(f, "delete_files_to_apply"),
    }
    if "bytes_written" in d:
        figures["written_bytes"] = int(d["bytes_written"])
    if not figures["files_rewritten"]:
        return Outcome("optimize: nothing to compact", figures)
    verb, into = ("would rewrite", "into about") if result.dry_run else ("rewrote", "into")
    size = f" ({format_size(figures['rewritten_bytes'])})"
    out = f" ({format_size(figures['written_bytes'])})" if "written_bytes" in figures else ""
    line = (
        f"optimize: {verb} {_files(figures['files_rewritten'])}{size} {into} "
        f"{figures['files_added']:,}{out}, {figures['rows_rewritten']:,} rows"
    )
    return Outcome(line, figures, changed=result.committed)


_EXPIRE_FILES = (
    "data_files",
    "delete_files",
    "manifests",
    "manifest_lists",
    "statistics_files",
)


def _expire(result: OperationResult) -> Outcome:
    f = result.figures
    figures = {
        "snapshots_expired": _n(f, "snapshots_to_expire"),
        "refs_removed": _n(f, "refs_to_remove"),
        "snapshots_retained": _n(f, "snapshots_retained"),
        **{f"{kind}_deleted": _n(f, f"{kind}_to_delete") for kind in _EXPIRE_FILES},
    }
    figures["files_deleted"] = sum(figures[f"{kind}_deleted"] for kind in _EXPIRE_FILES)
    if not figures["snapshots_expired"] and not figures["refs_removed"]:
        retained = figures["snapshots_retained"]
        return Outcome(f"expire: nothing old enough to expire ({retained:,} kept)", figures)
    verb, deleted = ("would expire", "would delete") if result.dry_run else ("expired", "deleted")
    line = f"expire: {verb} {_files(figures['snapshots_expired'], 'snapshot')}"
    if figures["refs_removed"]:
        line += f" and {_files(figures['refs_removed'], 'ref')}"
    line += f", {deleted} {_files(figures['files_deleted'])}"
    return Outcome(line, figures, changed=result.committed)


def _vacuum(result: OperationResult) -> Outcome:
    f = result.figures
    figures = {
        "orphan_files_deleted": _n(f, "orphan_files"),
        "orphan_deleted_bytes": _n(f, "orphan_bytes"),
        "files_listed": _n(f, "files_listed"),
        "prefix_mismatches": _n(f, "prefix_mismatches"),
    }
    count = figures["orphan_files_deleted"]
    if not count:
        return Outcome(
            f"vacuum: no orphan files ({_files(figures['files_listed'])} listed)", figures
        )
    verb = "would delete" if result.dry_run else "deleted"
    size = format_size(figures["orphan_deleted_bytes"])
    return Outcome(
        f"vacuum: {verb} {_files(count, 'orphan file')}, {size}",
        figures,
        changed=not result.dry_run,
    )


def _rewrite_manifests(result: OperationResult) -> Outcome:
    f = result.figures
    figures = {
        "manifests_rewritten": _n(f, "manifests_to_rewrite"),
        "manifests_added": _written(result, "manifests_written", "expected_manifests"),
        "entries_rewritten": _n(f, "entries_to_rewrite"),
    }
    if not figures["manifests_rewritten"]:
        return Outcome("rewrite_manifests: nothing to rewrite", figures)
    verb = "would rewrite" if result.dry_run else "rewrote"
    line = (
        f"rewrite_manifests: {verb} {_files(figures['manifests_rewritten'], 'manifest')} "
        f"into {figures['manifests_added']:,}"
    )
    return Outcome(line, figures, changed=result.committed)


def _nessie_gc(result: OperationResult) -> Outcome:
    f = result.figures
    deferred = bool(result.details.get("deferred_file"))
    figures = {
        "files_deleted": _n(f, "deleted"),
        "deleted_bytes": _n(f, "deleted_bytes"),
        "files_deferred": _n(f, "deferred"),
        "candidates": _n(f, "candidates"),
        "candidate_bytes": _n(f, "candidate_bytes"),
        "live_files": _n(f, "live_files"),
        "files_listed": _n(f, "files_listed"),
        "too_young": _n(f, "too_young"),
        "became_live": _n(f, "became_live"),
        "refs_walked": _n(f, "refs_walked"),
        "commits_walked": _n(f, "commits_walked"),
        "delete_failures": _n(f, "delete_failures"),
    }
    walked = f"{_files(figures['refs_walked'], 'reference')}, {figures['commits_walked']:,} commits"
    if result.dry_run or deferred:
        count, size = figures["candidates"], format_size(figures["candidate_bytes"])
        verb = "would delete" if result.dry_run else "listed for review"
        return Outcome(f"nessie_gc: {verb} {_files(count)}, {size} ({walked} walked)", figures)
    count, size = figures["files_deleted"], format_size(figures["deleted_bytes"])
    return Outcome(
        f"nessie_gc: deleted {_files(count)}, {size} ({walked} walked)", figures, changed=count > 0
    )


def _verb(result: OperationResult, done: str, would: str) -> str:
    return would if result.dry_run else done


def _remove_dangling(result: OperationResult) -> Outcome:
    f = result.figures
    figures = {
        "dangling_delete_files_removed": _n(f, "dangling_delete_files"),
        "dangling_removed_bytes": _n(f, "dangling_bytes"),
        "delete_files_checked": _n(f, "delete_files"),
    }
    count = figures["dangling_delete_files_removed"]
    if not count:
        checked = _files(figures["delete_files_checked"], "delete file")
        return Outcome(f"remove_dangling_deletes: no dangling delete files ({checked})", figures)
    verb = _verb(result, "removed", "would remove")
    size = format_size(figures["dangling_removed_bytes"])
    line = f"remove_dangling_deletes: {verb} {_files(count, 'dangling delete file')}, {size}"
    return Outcome(line, figures, changed=result.committed)


def _rewrite_position_deletes(result: OperationResult) -> Outcome:
    f, d = result.figures, result.details
    figures = {
        "delete_files_rewritten": _n(f, "delete_files_to_rewrite"),
        "delete_files_added": len(d.get("delete_files_written") or []),
        "rewritten_bytes": _n(f, "bytes_to_rewrite"),
        "dangling_delete_files_removed": _n(f, "dangling_delete_files"),
        "dangling_delete_records_dropped": int(d.get("dangling_delete_records") or 0),
        "file_groups": _n(f, "file_groups"),
    }
    rewritten, dangling = (
        figures["delete_files_rewritten"],
        figures["dangling_delete_files_removed"],
    )
    if not rewritten and not dangling:
        return Outcome("rewrite_position_deletes: nothing to compact", figures)
    parts = []
    if rewritten:
        into = (
            f"in {_files(figures['file_groups'], 'group')}"
            if result.dry_run
            else f"into {figures['delete_files_added']:,}"
        )
        parts.append(f"{_verb(result, 'rewrote', 'would rewrite')} {_files(rewritten)} {into}")
    if dangling:
        parts.append(f"{_verb(result, 'removed', 'would remove')} {dangling:,} dangling")
    line = f"rewrite_position_deletes: {', '.join(parts)} (position delete files)"
    return Outcome(line, figures, changed=result.committed)


def _compute_table_stats(result: OperationResult) -> Outcome:
    f = result.figures
    figures = {"columns_sketched": _n(f, "columns"), "rows": _n(f, "rows")}
    verb = _verb(result, "sketched", "would sketch")
    line = (
        f"compute_table_stats: {verb} {_files(figures['columns_sketched'], 'column')} over "
        f"{figures['rows']:,} rows (NDV, Puffin)"
    )
    return Outcome(line, figures, changed=result.committed)


def _data_retention(result: OperationResult) -> Outcome:
    f = result.figures
    figures = {
        "rows_deleted": _n(f, "rows_to_delete"),
        "files_dropped": _n(f, "files_to_drop"),
        "files_rewritten": _n(f, "files_to_rewrite"),
        "partitions_dropped": _n(f, "partitions_to_drop"),
        "dropped_bytes": _n(f, "bytes_to_drop"),
    }
    cutoff = result.details.get("cutoff", "the cutoff")
    if not figures["rows_deleted"]:
        return Outcome(f"data_retention: no row older than {cutoff}", figures)
    line = (
        f"data_retention: {_verb(result, 'deleted', 'would delete')} "
        f"{figures['rows_deleted']:,} rows older than {cutoff} "
        f"({figures['files_dropped']:,} files dropped unread, "
        f"{figures['files_rewritten']:,} rewritten)"
    )
    return Outcome(line, figures, changed=result.committed)


def _generic(result: OperationResult) -> Outcome:
    figures = {k: int(v) for k, v in result.figures.items() if isinstance(v, int | float)}
    state = "committed" if result.committed else "no change"
    return Outcome(f"{result.operation}: {state}", figures, changed=result.committed)


#: One describer per operation kind (an operation added to the Dagster layer adds its own).
DESCRIBERS: dict[str, Callable[[OperationResult], Outcome]] = {
    "optimize": _optimize,
    "expire": _expire,
    "vacuum": _vacuum,
    "rewrite_manifests": _rewrite_manifests,
    "nessie_gc": _nessie_gc,
    "remove_dangling_deletes": _remove_dangling,
    "rewrite_position_deletes": _rewrite_position_deletes,
    "compute_table_stats": _compute_table_stats,
    "data_retention": _data_retention,
}


def describe(result: OperationResult) -> Outcome:
    """The `Outcome` of ``result``: a headline and figures saying what happened.

    Example:
        >>> describe(result).figures["orphan_files_deleted"]      # doctest: +SKIP
        12
    """
    outcome = DESCRIBERS.get(result.operation, _generic)(result)
    if result.dry_run:
        headline = outcome.headline.replace(": would ", " would ", 1)
        return Outcome(f"dry run: {headline}; nothing changed", outcome.figures)
    return outcome


def sized(key: str, value: int) -> dict[str, dg.MetadataValue]:
    """``key`` as an int of bytes and, beside it, the same size for people: ``size_bytes`` →
    ``size``, ``written_bytes`` → ``written_size``."""
    base = key.removesuffix("_bytes")
    readable = base if base.endswith("size") else f"{base}_size"
    return {key: dg.MetadataValue.int(value), readable: dg.MetadataValue.text(format_size(value))}


def figure_metadata(prefix: str, figures: Mapping[str, int]) -> dict[str, dg.MetadataValue]:
    """Typed metadata of whole-number figures; sizes get a readable sibling."""
    metadata: dict[str, dg.MetadataValue] = {}
    for key, value in figures.items():
        if key.endswith("_bytes"):
            metadata.update(sized(f"{prefix}{key}", int(value)))
        else:
            metadata[f"{prefix}{key}"] = dg.MetadataValue.int(int(value))
    return metadata


def stats_figures(stats: "TableMetadata") -> dict[str, int]:
    """The `STAT_FIGURES` of ``stats`` that are known."""
    values = {key: getattr(stats, key) for key in STAT_FIGURES}
    return {k: int(v) for k, v in values.items() if v is not None}


def summary_markdown(
    outcome: Outcome, before: Mapping[str, int], after: Mapping[str, int], dry_run: bool
) -> str:
    """A short markdown summary: the headline and a before → after table."""
    lines = [f"**{outcome.headline}**", ""]
    lines += ["| | before | after |", "| --- | ---: | ---: |"]
    for key in STAT_FIGURES:
        if key in before or key in after:
            show = format_size if key == "size_bytes" else "{:,}".format
            old, new = before.get(key), after.get(key)
            name = "size" if key == "size_bytes" else key.replace("_", " ")
            lines.append(
                f"| {name} | {show(old) if old is not None else '–'} "
                f"| {show(new) if new is not None else '–'} |"
            )
    if dry_run:
        lines += ["", "_Dry run: the table was not changed; after = before._"]
    return "\n".join(lines)


def column_schema(schema: Any) -> dg.TableSchema:
    """The table's Iceberg schema as a Dagster `TableSchema` (top-level columns; nested types
    spelled out in the column type)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=str(column.field_type),
                description=column.doc,
                constraints=dg.TableColumnConstraints(nullable=not column.required),
            )
            for column in schema.fields
        ]
    )


def operation_metadata(
    result: OperationResult,
    outcome: Outcome,
    before: "TableMetadata",
    after: "TableMetadata",
    *,
    table_name: str,
    schema: Any | None = None,
) -> dict[str, dg.MetadataValue]:
    """Everything an observation (or a dry run's output) carries, typed."""
    before_figures, after_figures = stats_figures(before), stats_figures(after)
    metadata: dict[str, dg.MetadataValue] = {
        "lakehouse/summary": dg.MetadataValue.md(
            summary_markdown(outcome, before_figures, after_figures, result.dry_run)
        ),
        "lakehouse/operation": dg.MetadataValue.text(result.operation),
        "lakehouse/dry_run": dg.MetadataValue.bool(result.dry_run),
        "lakehouse/changed": dg.MetadataValue.bool(outcome.changed),
        "lakehouse/committed": dg.MetadataValue.bool(result.committed),
        "lakehouse/ref": dg.MetadataValue.text(result.ref),
        # Snapshot ids use 63 bits: as text, since the UI's numbers stop being exact at 2**53.
        "lakehouse/snapshot_id": dg.MetadataValue.text(str(result.snapshot_id_after or "none")),
        "lakehouse/duration_seconds": dg.MetadataValue.float(round(result.duration_seconds, 3)),
        **figure_metadata("lakehouse/", outcome.figures),
        **figure_metadata("before/", before_figures),
        **figure_metadata("after/", after_figures),
        "dagster/table_name": dg.MetadataValue.text(table_name),
    }
    if after.row_count is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(after.row_count)
    if schema is not None:
        metadata["dagster/column_schema"] = dg.MetadataValue.table_schema(column_schema(schema))
    return metadata
