"""``deletes remove-dangling``, ``deletes rewrite``, ``statistics compute`` and ``retention``:
delete-file upkeep, NDV statistics and time-based data retention.

Each builds its `TableOperation` and hands it to `run_operation` (``--dry-run`` previews,
``--yes`` applies; see `phlo_lakehouse.cli.apply`). TABLE may be a pattern such as ``raw.*``.

Example:
    $ phlo-lakehouse deletes remove-dangling demo.events --dry-run
    $ phlo-lakehouse deletes rewrite demo.events --min-input-files 2 --yes
    $ phlo-lakehouse statistics compute demo.events --column user_id --column kind --yes
    $ phlo-lakehouse retention demo.events --column event_time --older-than 365d --yes
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import click

from phlo_lakehouse.cli.apply import Confirmation, ProgressUnit, confirmed, run_operation
from phlo_lakehouse.cli.command import LakehouseCommand, LakehouseGroup, current_state
from phlo_lakehouse.cli.params import DURATION, FILE_SIZE, GROUP_SIZE
from phlo_lakehouse.cli.table_args import with_table
from phlo_lakehouse.operations.rewrite_options import DEFAULT_MAX_COMMITS, JOB_ORDERS

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable

DANGLING_PROGRESS = ProgressUnit("delete files", ("dangling_delete_files",), "dangling_bytes")
REWRITE_DELETES_PROGRESS = ProgressUnit(
    "delete files", ("delete_files_to_rewrite", "dangling_delete_files"), "bytes_to_rewrite"
)
STATS_PROGRESS = ProgressUnit("columns", ("columns",))
RETENTION_PROGRESS = ProgressUnit("files", ("files_to_drop", "files_to_rewrite"), "bytes_to_drop")


@click.group(cls=LakehouseGroup)
def deletes() -> None:
    """Delete-file upkeep: remove dangling deletes, compact position deletes."""


@deletes.command("remove-dangling")
@with_table(selector=True)
@confirmed
def remove_dangling(tables: list[LakehouseTable], confirmation: Confirmation) -> None:
    """Remove delete files that apply to no live data file (metadata only, one commit).

    TABLE is a name (raw.events) or a pattern (raw.*, *.events).

    Example: phlo-lakehouse deletes remove-dangling raw.events --yes
    """
    from phlo_lakehouse.operations.dangling import RemoveDanglingDeletesOperation

    operation = RemoveDanglingDeletesOperation()
    run_operation(current_state(), operation, tables, confirmation, DANGLING_PROGRESS)


@deletes.command("rewrite")
@with_table(selector=True)
@click.option(
    "--target-file-size",
    type=FILE_SIZE,
    default=None,
    help="Output delete file size, e.g. 64MB (default: write.delete.target-file-size-bytes, "
    "else 64MB).",
)
@click.option(
    "--min-input-files",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Delete files a group needs before it is rewritten.",
)
@click.option(
    "--max-file-group-size",
    type=GROUP_SIZE,
    default="1GB",
    show_default=True,
    help="Most input per group.",
)
@click.option(
    "--partition-filter",
    metavar="EXPR",
    default=None,
    help="Only delete files of matching partitions, e.g. \"event_time >= '2026-01-02'\".",
)
@click.option("--rewrite-all", is_flag=True, help="Consider every delete file, whatever its size.")
@click.option(
    "--delete-granularity",
    type=click.Choice(["file", "partition"]),
    default=None,
    help="One output per data file or per partition (default: write.delete.granularity, "
    "else file).",
)
@click.option("--partial-progress", is_flag=True, help="Commit the groups in batches.")
@click.option(
    "--max-commits",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_COMMITS,
    show_default=True,
    help="With --partial-progress: at most this many commits.",
)
@click.option(
    "--rewrite-job-order",
    type=click.Choice(JOB_ORDERS),
    default="none",
    show_default=True,
    help="Order groups run and commit in.",
)
@confirmed
def rewrite_deletes(
    tables: list[LakehouseTable], confirmation: Confirmation, **options: object
) -> None:
    """Compact position delete files per partition; drop the dangling ones.

    What Spark's rewrite_position_delete_files does: small delete files of a partition become
    one per data file (or one per partition); delete files and rows that apply to no live data
    file are dropped. Reads see the same rows before and after.

    Example: phlo-lakehouse deletes rewrite raw.events --min-input-files 2 --yes
    """
    from phlo_lakehouse.operations.position_deletes import RewritePositionDeletesOperation

    operation = RewritePositionDeletesOperation(**options)  # type: ignore[arg-type]
    run_operation(current_state(), operation, tables, confirmation, REWRITE_DELETES_PROGRESS)


@click.group(cls=LakehouseGroup)
def statistics() -> None:
    """Table statistics for query engines (Puffin NDV sketches)."""


@statistics.command()
@with_table(selector=True)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="COLUMN",
    help="A top-level primitive column (repeatable; default: every such column).",
)
@click.option(
    "--snapshot-id", type=int, default=None, help="Snapshot to describe (default: the ref head)."
)
@confirmed
def compute(
    tables: list[LakehouseTable],
    columns: tuple[str, ...],
    snapshot_id: int | None,
    confirmation: Confirmation,
) -> None:
    """Compute NDV sketches per column and register them as the snapshot's statistics.

    The Puffin file is the one Iceberg's compute_table_stats writes; Spark and Trino use it.

    Example: phlo-lakehouse statistics compute raw.events --column user_id --yes
    """
    from phlo_lakehouse.operations.table_stats import ComputeTableStatsOperation

    operation = ComputeTableStatsOperation(
        columns=[c.strip() for value in columns for c in value.split(",") if c.strip()] or None,
        snapshot_id=snapshot_id,
    )
    run_operation(current_state(), operation, tables, confirmation, STATS_PROGRESS)


@click.command(cls=LakehouseCommand)
@with_table(selector=True)
@click.option(
    "--column", required=True, metavar="COLUMN", help="The timestamp or date column rows age by."
)
@click.option(
    "--older-than",
    "retention",
    type=DURATION,
    required=True,
    help="Delete rows older than this, e.g. 90d (must be positive).",
)
@confirmed
def retention(
    tables: list[LakehouseTable],
    column: str,
    retention: timedelta,
    confirmation: Confirmation,
) -> None:
    """Delete rows whose COLUMN is older than --older-than.

    Whole files and partitions whose rows are all old are dropped without being read; files
    straddling the cutoff are rewritten without the old rows. Rows with a null COLUMN stay.

    Example: phlo-lakehouse retention raw.events --column event_time --older-than 365d --yes
    """
    from phlo_lakehouse.operations.retention import DataRetentionOperation

    operation = DataRetentionOperation(column=column, retention=retention)
    run_operation(current_state(), operation, tables, confirmation, RETENTION_PROGRESS)
