"""Committing a compaction: its ``replace`` commit, partial progress in batches of groups, and
removing what a commit that did not land wrote.

Example:
    >>> outcome = replace_files(table, plan, removed, added, live, strategy="binpack",
    ...                         use_starting_sequence_number=True)     # doctest: +SKIP
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import Conflict
from phlo_lakehouse.operations.replace import ReplaceFiles, ReplaceOutcome

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile

    from phlo_lakehouse.operations.base import OperationPlan
    from phlo_lakehouse.operations.live_files import LiveFile, LiveFiles
    from phlo_lakehouse.table import LakehouseTable


def replace_files(
    table: LakehouseTable,
    plan: OperationPlan,
    removed: list[LiveFile],
    added: list[DataFile],
    live: LiveFiles,
    removed_deletes: list[LiveFile] = (),  # type: ignore[assignment]
    *,
    strategy: str,
    use_starting_sequence_number: bool,
) -> ReplaceOutcome:
    """Commit one compaction (or one batch of its groups) as a ``replace`` snapshot: ``removed``
    out, ``added`` in, with the starting snapshot's data sequence number when asked (so deletes
    committed meanwhile still apply to the new files)."""
    start = table.table.snapshot_by_id(plan.snapshot_id) if plan.snapshot_id else None
    return ReplaceFiles(
        table.table,
        table.table_ref,
        starting_snapshot_id=plan.snapshot_id,
        removed=removed,
        added=added,
        removed_deletes=removed_deletes,
        data_sequence_number=(
            start.sequence_number if start is not None and use_starting_sequence_number else None
        ),
        summary={
            "phlo-lakehouse.operation": "optimize",
            "phlo-lakehouse.strategy": strategy,
        },
        known_entries=live.entries,
    ).commit()


def commit_in_batches(options, table, groups, run_group, commit_batch, workers):
    """Partial progress: the groups (in job order) in at most ``max_commits`` commits; a
    batch whose commit is refused (the table moved) is dropped with its files, up to
    ``max_failed_commits`` times (``options``: the operation's `RewriteOptions`).

    ``run_group(group)`` returns a dict whose ``written`` lists the files it wrote;
    ``commit_batch(outcomes, [])`` commits a batch. Files of a batch that did not commit are
    deleted when no commit was sent or it was refused (`discard_unless_unknown`).

    Returns:
        (outcomes of the committed groups, commit outcomes, the refusals tolerated).

    Raises:
        Conflict: more refusals than ``max_failed_commits``, or every batch refused.
    """
    outcomes: list[dict[str, Any]] = []
    commits = []
    failures: list[Conflict] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for batch_groups in options.commit_batches(groups):
            written: list[list[str]] = []

            def tracked(group: Any, written: list = written) -> dict[str, Any]:
                outcome = run_group(group)
                written.append(outcome["written"])
                return outcome

            commit_sent = False
            try:
                batch = list(pool.map(tracked, batch_groups))
                commit_sent = True
                commits.append(commit_batch(batch, []))
            except BaseException as error:
                paths = [p for ps in written for p in ps]
                discard_unless_unknown(table, error, paths, commit_sent=commit_sent)
                if not commit_sent or not isinstance(error, Conflict):
                    raise
                failures.append(error)
                if len(failures) > options.failures_allowed:
                    raise
                continue
            outcomes += batch
    if failures and not commits:
        raise failures[-1]
    return outcomes, commits, failures


def discard_unless_unknown(
    table: LakehouseTable, error: BaseException, written: list[str], *, commit_sent: bool = True
) -> None:
    """Delete files a failed commit wrote, only when the commit provably did not land: no
    commit was sent, or it was refused (`phlo_lakehouse.outcome.may_clean_up`). An unknown
    outcome, or any other error after sending, leaves them: they may be live."""
    from phlo_lakehouse.outcome import may_clean_up
    from phlo_lakehouse.storage.deletion import delete_files

    if may_clean_up(error, commit_sent=commit_sent):
        delete_files(table.table.io, written)
