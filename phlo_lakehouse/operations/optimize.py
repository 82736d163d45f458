"""`OptimizeOperation`: compaction by bin-pack, sort or z-order, committed as ``replace``.

Planning follows Iceberg's ``rewrite_data_files``: files of a partition smaller than
``min_file_size_ratio`` × target or larger than ``max_file_size_ratio`` × target (or carrying
enough deletes) are candidates; candidates are packed into groups of at most
``max_file_group_size`` input bytes; a group is rewritten when it has ``min_input_files`` files,
more than one target file of content, an oversized file or deletes to apply.

Example:
    >>> op = OptimizeOperation(target_file_size="128MB", min_input_files=5)
    >>> result = OperationExecutor(lakehouse).run(op, "demo.events")         # doctest: +SKIP
    >>> result.figures["files_to_rewrite"]                                  # doctest: +SKIP
    48
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.metadata import target_file_size
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.compaction_commit import (
    commit_in_batches,
    discard_unless_unknown,
    replace_files,
)
from phlo_lakehouse.operations.compaction_plan import (
    file_group,
    pack_groups,
    select_files,
    worth_rewriting,
)
from phlo_lakehouse.operations.dangling import (
    LiveFilesCache,
    commit_removed_deletes,
    dangling_deletes,
)
from phlo_lakehouse.operations.file_groups import FileGroup, group_from_dict
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.lineage import V3_DECODE_REASON
from phlo_lakehouse.operations.live_files import LiveFile, LiveFiles, applicable_deletes
from phlo_lakehouse.operations.parquet_footer import FooterError
from phlo_lakehouse.operations.rewrite import rewrite_group
from phlo_lakehouse.operations.rewrite_options import (
    DEFAULT_MAX_COMMITS,
    RewriteOptions,
    SizeBand,
    output_spec_id,
)
from phlo_lakehouse.operations.selection import (
    check_strategy,
    check_zorder_columns,
    file_filter,
    parse_filter,
    parse_sort_spec,
    resolve_sort_keys,
)
from phlo_lakehouse.operations.stitch import STITCH_MODES, plan_stitch, stitch_group, stitch_mode

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable

STRATEGIES = ("binpack", "sort", "zorder")


class OptimizeOperation(SizeBand, TableOperation):
    """Compact a table's data files.

    Args:
        strategy: "binpack" (default), "sort" (``sort_by`` or the table's sort order) or
            "zorder" (``zorder_by`` columns).
        sort_by: columns for "sort", e.g. ``["user_id", "event_time desc nulls last"]``.
        zorder_by: columns for "zorder" (numeric, date/time, string or boolean).
        target_file_size: bytes or "128MB"; default ``write.target-file-size-bytes`` else 512 MB.
        min_input_files: files a group needs to be rewritten (default 5).
        min_file_size_ratio / max_file_size_ratio: small and large thresholds (0.75 / 1.8).
        max_file_group_size: most input bytes per group (default 1 GB).
        partition_filter: only files that may hold rows matching this expression, e.g.
            ``"event_time >= '2026-01-02T00:00:00+00:00'"``.
        rewrite_all: rewrite every file of the selection, whatever its size.
        delete_ratio_threshold: rewrite a file when deleted rows ≥ this share of its rows.
        partial_progress: commit each group on its own (groups may run in parallel processes).
        files: only these data files (paths), e.g. one group of an earlier plan: this is how a
            fan-out runs one group per process; files no longer live are left out.
        max_concurrent_groups: groups rewritten at once in this process (default: CPU count).
        stitch: "auto", "always" or "never": copy whole row groups instead of decoding when
            safe (`phlo_lakehouse.operations.stitch`); default: the table property
            ``phlo-lakehouse.optimize.stitch``, else "auto".
        remove_dangling_deletes, rewrite_job_order, max_commits, max_failed_commits,
            delete_file_threshold, use_starting_sequence_number, output_spec_id: Spark 1.10's
            options of the same names (`rewrite_options.RewriteOptions`). Files are written in
            the output spec (default: the current one): after partition evolution, files of
            older specs that the size rules select are rewritten into it. Dangling deletes are
            removed in the compaction's commit (a commit of their own with partial progress;
            not in a ``files=`` fan-out step, where `RemoveDanglingDeletesOperation` does it).
    """

    name = "optimize"
    permission = "optimize"

    def __init__(
        self,
        *,
        strategy: str = "binpack",
        sort_by: Sequence[str] | None = None,
        zorder_by: Sequence[str] | None = None,
        target_file_size: str | int | None = None,
        min_input_files: int = 5,
        min_file_size_ratio: float = 0.75,
        max_file_size_ratio: float = 1.8,
        max_file_group_size: str | int = "1GB",
        partition_filter: str | None = None,
        rewrite_all: bool = False,
        delete_ratio_threshold: float = 0.3,
        partial_progress: bool = False,
        files: Sequence[str] | None = None,
        max_concurrent_groups: int | None = None,
        stitch: str | None = None,
        remove_dangling_deletes: bool = True,
        rewrite_job_order: str = "none",
        max_commits: int = DEFAULT_MAX_COMMITS,
        max_failed_commits: int | None = None,
        delete_file_threshold: int | None = None,
        use_starting_sequence_number: bool = True,
        output_spec_id: int | None = None,
    ) -> None:
        check_strategy(strategy, STRATEGIES, sort_by=sort_by, zorder_by=zorder_by)
        self.set_size_band(
            target_file_size,
            min_input_files,
            min_file_size_ratio,
            max_file_size_ratio,
            max_file_group_size,
        )
        if not 0 < delete_ratio_threshold <= 1:
            raise InvalidInput("delete_ratio_threshold must be in (0, 1]", hint="default 0.3")
        self.strategy = strategy
        self.sort_keys = [parse_sort_spec(s) for s in (sort_by or [])]
        self.zorder_by = list(zorder_by or [])
        self.partition_filter = partition_filter
        self._filter_expr = parse_filter(partition_filter) if partition_filter else None
        self.rewrite_all = rewrite_all
        self.delete_ratio = delete_ratio_threshold
        self.partial_progress = partial_progress
        self.only_files = frozenset(files) if files is not None else None
        self.max_concurrent_groups = max_concurrent_groups or os.cpu_count() or 1
        if stitch is not None and stitch not in STITCH_MODES:
            raise InvalidInput(
                f"stitch={stitch!r} is not supported", hint="use auto, always or never"
            )
        self.stitch = stitch
        self.options = RewriteOptions(
            remove_dangling_deletes=remove_dangling_deletes,
            rewrite_job_order=rewrite_job_order,
            max_commits=max_commits,
            max_failed_commits=max_failed_commits,
            delete_file_threshold=delete_file_threshold,
            use_starting_sequence_number=use_starting_sequence_number,
            output_spec_id=output_spec_id,
        )

    def settings(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "sort_by": [f"{c} {d}" for c, d, _ in self.sort_keys],
            "zorder_by": self.zorder_by,
            "target_file_size": self.target_file_size,
            "min_input_files": self.min_input_files,
            "partition_filter": self.partition_filter,
            "rewrite_all": self.rewrite_all,
            "partial_progress": self.partial_progress,
            "stitch": self.stitch,
            **self.options.to_dict(),
        }

    # -- planning -------------------------------------------------------------------------------

    def plan(self, table: LakehouseTable) -> OperationPlan:
        metadata = table.table.metadata
        target = self.target_file_size or target_file_size(table.table)
        if table.ref_kind != "branch":
            raise InvalidInput(
                f"{table.ref!r} is a tag; tags cannot be compacted", hint="optimize a branch"
            )
        check_format_support(table, self.name)
        schema = metadata.schema()
        sort_keys = resolve_sort_keys(table.table, schema, self.strategy, self.sort_keys)
        check_zorder_columns(schema, self.zorder_by)
        output_spec = output_spec_id(table, self.options.output_spec_id)
        live = self._live_files(table)
        keep = file_filter(table.table, self._filter_expr) if self._filter_expr else None
        deletes_by_partition: dict[tuple, list[LiveFile]] = defaultdict(list)
        global_deletes = []
        for delete in live.deletes:
            if len(delete.data_file.partition) == 0:
                global_deletes.append(delete)
            else:
                deletes_by_partition[delete.partition_key].append(delete)
        by_partition: dict[tuple, list[tuple[LiveFile, list[LiveFile]]]] = defaultdict(list)
        for data in live.data:
            if keep is not None and not keep(data.data_file):
                continue
            if self.only_files is not None and data.path not in self.only_files:
                continue
            candidates = deletes_by_partition.get(data.partition_key, []) + global_deletes
            # Iceberg's grouping: files of another spec may hold rows of many output partitions,
            # so they form one group (per size bin) written into the output spec's partitions.
            key = data.partition_key if data.spec_id == output_spec else (output_spec, ())
            by_partition[key].append((data, applicable_deletes(data, candidates)))
        groups: list[FileGroup] = []
        for key in sorted(by_partition, key=repr):
            selected = select_files(by_partition[key], target, self)
            for files in pack_groups(selected, self.max_group_bytes):
                if worth_rewriting(files, target, self):
                    groups.append(file_group(len(groups), key, files, target, self.max_ratio))
        groups = self.options.order(groups)
        dangling = (
            dangling_deletes(live)
            if self.options.remove_dangling_deletes and self.only_files is None
            else []
        )
        figures = {
            "file_groups": len(groups),
            "files_to_rewrite": sum(len(g.files) for g in groups),
            "bytes_to_rewrite": sum(g.input_bytes for g in groups),
            "rows_to_rewrite": sum(g.input_records for g in groups),
            "delete_files_to_apply": len({d for g in groups for d in g.delete_files}),
            "expected_output_files": sum(g.expected_output_files for g in groups),
            "partitions": len({(g.spec_id, g.partition) for g in groups}),
            "dangling_delete_files": len(dangling),
        }
        details = {
            "dangling_delete_files": [d.path for d in dangling],
            "strategy": self.strategy,
            "target_file_size": target,
            "sort_keys": [list(k) for k in sort_keys],
            "groups": [g.to_dict() for g in groups],
        }
        if metadata.format_version >= 3:  # row lineage is written, so nothing is stitched
            details["row_lineage"] = V3_DECODE_REASON
        return self._plan(table, figures, details)

    # -- execution ------------------------------------------------------------------------------

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        groups = [group_from_dict(g) for g in plan.details["groups"]]
        dangling_paths = set(plan.details.get("dangling_delete_files", []))
        if not groups and not dangling_paths:
            return OperationResult.applied(plan, committed=False)
        live = self._live_files(table, plan.snapshot_id)
        # entries, not paths: deletion vectors of many data files share one Puffin file
        dangling = [d for d in dangling_deletes(live) if d.path in dangling_paths]
        if not groups:
            outcome = commit_removed_deletes(table, plan, dangling, live, operation=self.name)
            return OperationResult.applied(
                plan,
                snapshot_id_after=outcome.snapshot.snapshot_id,
                details={**plan.details, "delete_files_removed": outcome.removed_delete_files},
                attempts=outcome.attempts,
            )
        by_path = {f.path: f for f in live.data}
        deletes_by_path: dict[str, list[LiveFile]] = defaultdict(list)
        for delete in live.deletes:
            deletes_by_path[delete.path].append(delete)
        sort_keys = [tuple(k) for k in plan.details["sort_keys"]]
        commit_lock = threading.Lock()
        stitch = stitch_mode(table.table, self.stitch)
        outcomes: list[dict[str, Any]] = []
        written_all: list[list[str]] = []

        def run_group(group: FileGroup) -> dict[str, Any]:
            files = [by_path[p] for p in group.files]
            group_deletes = [d for p in group.delete_files for d in deletes_by_path[p]]
            deletes = {f.path: applicable_deletes(f, group_deletes) for f in files}
            repartition = any(f.spec_id != group.spec_id for f in files)
            stitchable, reason = (
                (None, "rows move to another partition spec")
                if repartition
                else plan_stitch(table.table, files, any(deletes.values()), self.strategy, stitch)
            )
            stitched = None
            if stitchable is not None:
                try:
                    stitched = stitch_group(table.table, group, files, stitchable)
                except FooterError as e:  # the footer did not survive re-encoding: decode
                    reason = str(e)
            if stitched is not None:
                new_files, rows, writer_paths = stitched
            else:
                new_files, rows, writer_paths = rewrite_group(
                    table.table,
                    group,
                    files,
                    deletes,
                    strategy=self.strategy,
                    sort_keys=sort_keys,
                    table_sort_order=not self.sort_keys,
                    zorder_by=self.zorder_by,
                    repartition=repartition,
                )
            with commit_lock:
                written_all.append(writer_paths)
            outcome = {"group": group, "added": new_files, "rows": rows, "removed": files}
            outcome["stitch"] = reason or "stitched"
            outcome["written"] = writer_paths
            return outcome

        def commit_batch(batch: list[dict[str, Any]], removed_deletes: list[LiveFile]):
            return replace_files(
                table,
                plan,
                [f for o in batch for f in o["removed"]],
                [f for o in batch for f in o["added"]],
                live,
                removed_deletes,
                strategy=self.strategy,
                use_starting_sequence_number=self.options.use_starting_sequence_number,
            )

        workers = max(1, min(self.max_concurrent_groups, len(groups)))
        if self.partial_progress:
            outcomes, commits, failures = commit_in_batches(
                self.options, table, groups, run_group, commit_batch, workers
            )
            if dangling:  # a commit of their own: a failed batch must not keep them
                commits.append(
                    commit_removed_deletes(table, plan, dangling, live, operation=self.name)
                )
        else:
            failures, commit_sent = [], False
            try:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    outcomes = list(pool.map(run_group, groups))
                commit_sent = True
                commits = [commit_batch(outcomes, dangling)]
            except BaseException as error:
                written = [p for ps in written_all for p in ps]
                discard_unless_unknown(table, error, written, commit_sent=commit_sent)
                raise
        added = [f for o in outcomes for f in o["added"]]
        figures = {
            "file_groups": len(outcomes),
            "files_to_rewrite": sum(len(o["removed"]) for o in outcomes),
            "bytes_to_rewrite": sum(o["group"].input_bytes for o in outcomes),
            "rows_to_rewrite": sum(o["group"].input_records for o in outcomes),
            "delete_files_to_apply": plan.figures["delete_files_to_apply"],
            "expected_output_files": len(added),
            "partitions": plan.figures["partitions"],
            "dangling_delete_files": plan.figures.get("dangling_delete_files", 0),
        }
        details = {
            **plan.details,
            "rows_written": sum(o["rows"] for o in outcomes),
            "bytes_written": sum(f.file_size_in_bytes for f in added),
            "files_written": sorted(f.file_path for f in added),
            "delete_files_removed": sorted({p for c in commits for p in c.removed_delete_files}),
            "commits": len(commits),
            "failed_commits": len(failures),
            "stitched_groups": sum(o["stitch"] == "stitched" for o in outcomes),
            "decoded_groups": sum(o["stitch"] != "stitched" for o in outcomes),
            "decode_reasons": sorted({o["stitch"] for o in outcomes} - {"stitched"}),
        }
        head = commits[-1].snapshot.snapshot_id
        return OperationResult.applied(
            plan,
            snapshot_id_after=head,
            figures=figures,
            details=details,
            attempts=max(c.attempts for c in commits),
        )

    def _live_files(self, table: LakehouseTable, snapshot_id: int | None = None) -> LiveFiles:
        """Live files of the ref head or ``snapshot_id``, read once (plan and execute share)."""
        if not hasattr(self, "_live_cache"):
            self._live_cache = LiveFilesCache()
        return self._live_cache.get(table, snapshot_id)
