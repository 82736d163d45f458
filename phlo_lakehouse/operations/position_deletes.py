"""`RewritePositionDeletesOperation`: compact position delete files per partition and drop the
dangling ones, what Spark's ``rewrite_position_delete_files`` does.

Merge-on-read writers (Spark MERGE/UPDATE/DELETE, Flink upserts) add position delete files
commit after commit; every reader opens each of them. Planning follows Iceberg's
``BinPackRewritePositionDeletePlanner``: per spec and partition, position delete files smaller
than ``min_file_size_ratio`` × target or larger than ``max_file_size_ratio`` × target (every
file with ``rewrite_all``) are packed into groups of at most ``max_file_group_size`` bytes; a
group is rewritten when it has ``min_input_files`` files, more than a target file of content, or
more than the largest allowed file. The target is ``write.delete.target-file-size-bytes``
(default 64 MiB).

Execution reads each group's ``(file_path, pos)`` rows, keeps those that point at a data file
live in the partition (with a sequence number the delete applies to), and writes them sorted
into new files, one per referenced data file (``write.delete.granularity`` file, Spark's
default) or one chain per group (partition). Each new file gets the highest data sequence
number of the files it replaces, as Java's commit does, so it applies to exactly the data files
the old ones applied to. Delete files that apply to no live data file at all (`dangling`) are
removed without being read. One ``replace`` commit through the shared replace producer (one per
batch of groups with ``partial_progress``), which checks on each attempt that every removed
delete file is still live.

Example:
    >>> op = RewritePositionDeletesOperation(min_input_files=2)
    >>> result = OperationExecutor(lakehouse).run(op, "raw.events")          # doctest: +SKIP
    >>> result.figures["delete_files_to_rewrite"], result.details["delete_files_written"]
    ... # doctest: +SKIP
    (48, [...])
"""

from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.compaction_commit import commit_in_batches, discard_unless_unknown
from phlo_lakehouse.operations.dangling import (
    LiveFilesCache,
    commit_removed_deletes,
    dangling_deletes,
    referenced_data_file,
)
from phlo_lakehouse.operations.file_groups import DeleteGroup, output_file_count, pack_by_size
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.live_files import LiveFile, LiveFiles
from phlo_lakehouse.operations.position_delete_files import (
    GRANULARITIES,
    delete_granularity,
    delete_target_file_size,
    live_positions,
    write_positions,
)
from phlo_lakehouse.operations.rewrite_options import (
    DEFAULT_MAX_COMMITS,
    RewriteOptions,
    SizeBand,
)
from phlo_lakehouse.operations.selection import file_filter, parse_filter

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable


class RewritePositionDeletesOperation(SizeBand, TableOperation):
    """Compact position delete files per partition; drop dangling ones (Spark's
    ``rewrite_position_delete_files``).

    Args:
        target_file_size: bytes or "64MB"; default ``write.delete.target-file-size-bytes``
            else 64 MiB.
        min_input_files: files a group needs to be rewritten (default 5).
        min_file_size_ratio / max_file_size_ratio: small and large thresholds (0.75 / 1.8).
        max_file_group_size: most input bytes per group (default 1 GB).
        rewrite_all: consider every position delete file, whatever its size.
        partition_filter: only delete files of partitions that may hold matching rows, e.g.
            ``"event_time >= '2026-01-02T00:00:00+00:00'"``.
        delete_granularity: "file" (one delete file per data file) or "partition"; default
            ``write.delete.granularity``, else "file".
        partial_progress: commit the groups in batches (``max_commits`` at most), so a batch
            that conflicts costs only itself.
        max_commits, rewrite_job_order: as for optimize (Spark's names).
        max_concurrent_groups: groups rewritten at once (default: CPU count).

    Figures: ``position_delete_files`` (live, in the selection), ``file_groups``,
    ``delete_files_to_rewrite``, ``bytes_to_rewrite``, ``delete_records_to_rewrite``,
    ``dangling_delete_files``, ``dangling_bytes``, ``partitions``. The result's details add
    ``delete_files_written``, ``delete_records_written``, ``dangling_delete_records`` (rows
    dropped because their data file is gone), ``duplicate_delete_records`` and
    ``bytes_written``.
    """

    name = "rewrite_position_deletes"
    permission = "optimize"

    def __init__(
        self,
        *,
        target_file_size: str | int | None = None,
        min_input_files: int = 5,
        min_file_size_ratio: float = 0.75,
        max_file_size_ratio: float = 1.8,
        max_file_group_size: str | int = "1GB",
        rewrite_all: bool = False,
        partition_filter: str | None = None,
        delete_granularity: str | None = None,
        partial_progress: bool = False,
        max_commits: int = DEFAULT_MAX_COMMITS,
        rewrite_job_order: str = "none",
        max_concurrent_groups: int | None = None,
    ) -> None:
        self.set_size_band(
            target_file_size,
            min_input_files,
            min_file_size_ratio,
            max_file_size_ratio,
            max_file_group_size,
        )
        if delete_granularity is not None and delete_granularity not in GRANULARITIES:
            raise InvalidInput(
                f"delete_granularity={delete_granularity!r} is not supported",
                hint="use file or partition",
            )
        self.rewrite_all = bool(rewrite_all)
        self.partition_filter = partition_filter
        self._filter_expr = parse_filter(partition_filter) if partition_filter else None
        self.delete_granularity = delete_granularity
        self.partial_progress = bool(partial_progress)
        self.options = RewriteOptions(rewrite_job_order=rewrite_job_order, max_commits=max_commits)
        self.max_concurrent_groups = max_concurrent_groups or os.cpu_count() or 1
        self._live_cache = LiveFilesCache()

    def settings(self) -> dict[str, Any]:
        return {
            "target_file_size": self.target_file_size,
            "min_input_files": self.min_input_files,
            "rewrite_all": self.rewrite_all,
            "partition_filter": self.partition_filter,
            "delete_granularity": self.delete_granularity,
            "partial_progress": self.partial_progress,
            "max_commits": self.options.max_commits,
            "rewrite_job_order": self.options.rewrite_job_order,
        }

    # -- planning -------------------------------------------------------------------------------

    def plan(self, table: LakehouseTable) -> OperationPlan:
        from pyiceberg.manifest import DataFileContent

        if table.ref_kind != "branch":
            raise InvalidInput(
                f"{table.ref!r} is a tag; delete files are rewritten on branches",
                hint="run it on a branch",
            )
        check_format_support(table, self.name)
        keep = file_filter(table.table, self._filter_expr) if self._filter_expr else None
        target = self.target_file_size or delete_target_file_size(table.table)
        granularity = self.delete_granularity or delete_granularity(table.table)
        live = self._live(table)
        position = [
            d
            for d in live.deletes
            if d.data_file.content == DataFileContent.POSITION_DELETES
            and (keep is None or keep(d.data_file))
        ]
        dangling = dangling_deletes(LiveFiles(data=live.data, deletes=position))
        dangling_paths = {d.path for d in dangling}
        by_partition: dict[tuple, list[LiveFile]] = defaultdict(list)
        for delete in position:
            if delete.path not in dangling_paths:
                by_partition[delete.partition_key].append(delete)
        live_paths = {f.path for f in live.data}
        groups: list[DeleteGroup] = []
        for key in sorted(by_partition, key=repr):
            for files in pack_by_size(
                self._candidates(by_partition[key], target),
                lambda d: d.data_file.file_size_in_bytes,
                self.max_group_bytes,
            ):
                if self._worth_rewriting(files, target) and not _unchanged_by_rewrite(
                    files, target * self.max_ratio, granularity, live_paths
                ):
                    groups.append(self._group(len(groups), key, files, target))
        groups = self.options.order(groups)
        figures = {
            "position_delete_files": len(position),
            **_group_figures(groups),
            "dangling_delete_files": len(dangling),
            "dangling_bytes": sum(d.data_file.file_size_in_bytes for d in dangling),
        }
        details = {
            "target_file_size": target,
            "delete_granularity": granularity,
            "dangling_delete_files": sorted(dangling_paths),
            "groups": [g.to_dict() for g in groups],
        }
        return self._plan(table, figures, details)

    def _candidates(self, deletes: list[LiveFile], target: int) -> list[LiveFile]:
        ordered = sorted(deletes, key=lambda d: d.path)
        if self.rewrite_all:
            return ordered
        low, high = self.min_ratio * target, self.max_ratio * target
        return [d for d in ordered if not low <= d.data_file.file_size_in_bytes <= high]

    def _worth_rewriting(self, files: list[LiveFile], target: int) -> bool:
        """Iceberg's group filter (it applies with ``rewrite_all`` too): enough files, more
        than a target file of content, or more than the largest allowed file."""
        total = sum(d.data_file.file_size_in_bytes for d in files)
        enough_files = len(files) > 1 and len(files) >= self.min_input_files
        enough_content = len(files) > 1 and total > target
        return enough_files or enough_content or total > self.max_ratio * target

    def _group(self, group_id: int, key: tuple, files: list[LiveFile], target: int) -> DeleteGroup:
        size = sum(d.data_file.file_size_in_bytes for d in files)
        return DeleteGroup(
            group_id=group_id,
            spec_id=key[0],
            partition=key[1],
            files=tuple(d.path for d in files),
            input_bytes=size,
            input_records=sum(d.data_file.record_count for d in files),
            sequence_number=max(d.data_sequence_number for d in files),
            expected_output_files=output_file_count(size, target, self.max_ratio),
        )

    # -- execution ------------------------------------------------------------------------------

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        groups = [DeleteGroup.from_dict(g) for g in plan.details["groups"]]
        dangling_paths = set(plan.details["dangling_delete_files"])
        if not groups and not dangling_paths:
            return OperationResult.applied(plan, committed=False)
        live = self._live(table, plan.snapshot_id)
        deletes_by_path = {d.path: d for d in live.deletes}
        dangling = [deletes_by_path[p] for p in sorted(dangling_paths)]
        data_sequence: dict[tuple, dict[str, int]] = defaultdict(dict)
        for data in live.data:
            data_sequence[data.partition_key][data.path] = data.data_sequence_number
        target = int(plan.details["target_file_size"])
        granularity = plan.details["delete_granularity"]
        write_max = int(target + (self.max_ratio * target - target) * 0.5)

        def run_group(group: DeleteGroup) -> dict[str, Any]:
            deletes = [deletes_by_path[p] for p in group.files]
            key = deletes[0].partition_key
            rows, dangling_rows, duplicates = live_positions(
                table.table, deletes, data_sequence[key]
            )
            bytes_per_row = group.input_bytes / max(1, group.input_records)
            added, written = write_positions(
                table.table,
                group.spec_id,
                deletes[0].data_file.partition,
                rows,
                granularity=granularity,
                rows_per_file=max(1, int(write_max / max(bytes_per_row, 1e-9))),
            )
            return {
                "group": group,
                "removed": deletes,
                "added": added,
                "written": written,
                "rows": rows.num_rows,
                "dangling_rows": dangling_rows,
                "duplicates": duplicates,
            }

        def commit(batch: list[dict[str, Any]], extra: list[LiveFile]):
            return commit_removed_deletes(
                table,
                plan,
                [d for o in batch for d in o["removed"]] + extra,
                live,
                operation=self.name,
                added_deletes=[f for o in batch for f in o["added"]],
                delete_sequence_numbers={
                    f.file_path: o["group"].sequence_number for o in batch for f in o["added"]
                },
            )

        workers = max(1, min(self.max_concurrent_groups, len(groups) or 1))
        outcomes, commits, failures = self._run(table, groups, dangling, run_group, commit, workers)
        added = [f for o in outcomes for f in o["added"]]
        figures = {
            **plan.figures,
            **_group_figures([o["group"] for o in outcomes]),
        }
        details = {
            **plan.details,
            "delete_files_written": sorted(f.file_path for f in added),
            "delete_records_written": sum(o["rows"] for o in outcomes),
            "dangling_delete_records": sum(o["dangling_rows"] for o in outcomes),
            "duplicate_delete_records": sum(o["duplicates"] for o in outcomes),
            "bytes_written": sum(f.file_size_in_bytes for f in added),
            "delete_files_removed": sorted({p for c in commits for p in c.removed_delete_files}),
            "commits": len(commits),
            "failed_commits": len(failures),
        }
        return OperationResult.applied(
            plan,
            snapshot_id_after=commits[-1].snapshot.snapshot_id,
            figures=figures,
            details=details,
            attempts=max(c.attempts for c in commits),
        )

    def _run(self, table, groups, dangling, run_group, commit, workers):
        """Rewrite and commit: all in one commit, or with partial progress in batches (a
        refused batch is dropped with its files) and the dangling files in a commit of their
        own. Files written for groups that do not commit are deleted only when the commit
        provably did not land (`phlo_lakehouse.outcome.may_clean_up`)."""
        if self.partial_progress:
            outcomes, commits, failures = commit_in_batches(
                self.options, table, groups, run_group, commit, workers
            )
            if dangling:
                commits.append(commit([], dangling))
            return outcomes, commits, failures
        written: list[list[str]] = []

        def tracked(group: DeleteGroup) -> dict[str, Any]:
            outcome = run_group(group)
            written.append(outcome["written"])
            return outcome

        commit_sent = False
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outcomes = list(pool.map(tracked, groups))
            commit_sent = True
            return outcomes, [commit(outcomes, dangling)], []
        except BaseException as error:
            paths = [p for ps in written for p in ps]
            discard_unless_unknown(table, error, paths, commit_sent=commit_sent)
            raise

    def _live(self, table: LakehouseTable, snapshot_id: int | None = None) -> LiveFiles:
        return self._live_cache.get(table, snapshot_id)


def _unchanged_by_rewrite(
    files: list[LiveFile], largest: float, granularity: str, live_paths: set[str]
) -> bool:
    """True when rewriting ``files`` would write the same files again: with "file"
    granularity, each is file-scoped on a different live data file (nothing to merge, no
    dangling row) and none is too large. Iceberg's planner rewrites such a group anyway; a
    second run right after a first then finds nothing here."""
    if granularity != "file":
        return False
    referenced = [referenced_data_file(d) for d in files]
    return (
        all(r is not None and r in live_paths for r in referenced)
        and len(set(referenced)) == len(files)
        and all(d.data_file.file_size_in_bytes <= largest for d in files)
    )


def _group_figures(groups: list[DeleteGroup]) -> dict[str, int]:
    return {
        "file_groups": len(groups),
        "delete_files_to_rewrite": sum(len(g.files) for g in groups),
        "bytes_to_rewrite": sum(g.input_bytes for g in groups),
        "delete_records_to_rewrite": sum(g.input_records for g in groups),
        "partitions": len({(g.spec_id, g.partition) for g in groups}),
    }
