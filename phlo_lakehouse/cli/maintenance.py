"""``optimize``, ``expire``, ``vacuum`` and ``manifests rewrite``: table maintenance.

Each builds its `TableOperation` from the options and hands it to `run_operation`, which
previews, confirms or applies it through `IcebergLakehouse.run` (see `phlo_lakehouse.cli.apply`
for the ``--dry-run``/``--yes`` rule). TABLE may be a pattern such as ``raw.*``.

Example:
    $ phlo-lakehouse optimize demo.events --dry-run
    $ phlo-lakehouse expire 'demo.*' --older-than 7d --retain-last 5 --yes
    $ phlo-lakehouse vacuum demo.events --older-than 3d --yes
    $ phlo-lakehouse manifests rewrite demo.events --yes
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from phlo_lakehouse.cli.apply import Confirmation, ProgressUnit, confirmed, run_operation
from phlo_lakehouse.cli.command import LakehouseCommand, LakehouseGroup, current_state
from phlo_lakehouse.cli.params import DURATION, FILE_SIZE, PREFIX_MISMATCH_OPTION
from phlo_lakehouse.cli.rewrite_flags import rewrite_option_flags
from phlo_lakehouse.cli.table_args import with_table
from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable

OPTIMIZE_PROGRESS = ProgressUnit("files", ("files_to_rewrite",), "bytes_to_rewrite")
EXPIRE_PROGRESS = ProgressUnit(
    "files",
    (
        "data_files_to_delete",
        "delete_files_to_delete",
        "manifests_to_delete",
        "manifest_lists_to_delete",
        "statistics_files_to_delete",
    ),
)
VACUUM_PROGRESS = ProgressUnit("files", ("orphan_files",), "orphan_bytes")
MANIFESTS_PROGRESS = ProgressUnit("manifests", ("manifests_to_rewrite",))


def _columns(values: Sequence[str]) -> list[str]:
    """``--sort-by a --sort-by "b desc"`` and ``--sort-by "a,b desc"`` alike."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command(cls=LakehouseCommand)
@with_table(selector=True)
@click.option(
    "--strategy",
    type=click.Choice(["binpack", "sort", "zorder"]),
    default=None,
    help="binpack (default), sort or zorder; implied by --sort-by / --zorder-by.",
)
@click.option(
    "--sort-by",
    multiple=True,
    metavar="COLUMNS",
    help="Sort columns, e.g. 'user_id,event_time desc nulls last' (repeatable).",
)
@click.option("--zorder-by", multiple=True, metavar="COLUMNS", help="Z-order columns, e.g. 'a,b'.")
@click.option(
    "--target-file-size",
    type=FILE_SIZE,
    default=None,
    help="Output file size, e.g. 128MB (default: write.target-file-size-bytes, else 512MB).",
)
@click.option(
    "--min-input-files",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Files a group needs before it is rewritten.",
)
@click.option(
    "--partition-filter",
    metavar="EXPR",
    default=None,
    help="Only files that may hold matching rows, e.g. \"event_time >= '2026-01-02'\".",
)
@click.option("--rewrite-all", is_flag=True, help="Rewrite every selected file, whatever its size.")
@click.option("--partial-progress", is_flag=True, help="Commit each file group on its own.")
@click.option(
    "--stitch",
    type=click.Choice(["auto", "always", "never"]),
    default=None,
    help="Copy whole Parquet row groups instead of decoding when safe (default: the table "
    "property phlo-lakehouse.optimize.stitch, else auto).",
)
@rewrite_option_flags
@confirmed
def optimize(
    tables: list[LakehouseTable],
    strategy: str | None,
    sort_by: tuple[str, ...],
    zorder_by: tuple[str, ...],
    target_file_size: int | None,
    min_input_files: int,
    partition_filter: str | None,
    rewrite_all: bool,
    partial_progress: bool,
    stitch: str | None,
    confirmation: Confirmation,
    rewrite_options: dict,
) -> None:
    """Compact small data files (binpack, sort or zorder).

    The rewrite commits as a replace snapshot: the data does not change.

    TABLE is a name (raw.events) or a pattern (raw.*, *.events).

    Example: phlo-lakehouse optimize demo.events --target-file-size 128MB --yes
    """
    from phlo_lakehouse.operations.optimize import OptimizeOperation

    sort_columns, zorder_columns = _columns(sort_by), _columns(zorder_by)
    implied = "sort" if sort_columns else "zorder" if zorder_columns else "binpack"
    operation = OptimizeOperation(
        strategy=strategy or implied,
        sort_by=sort_columns or None,
        zorder_by=zorder_columns or None,
        target_file_size=target_file_size,
        min_input_files=min_input_files,
        partition_filter=partition_filter,
        rewrite_all=rewrite_all,
        partial_progress=partial_progress,
        stitch=stitch,
        **rewrite_options,
    )
    run_operation(current_state(), operation, tables, confirmation, OPTIMIZE_PROGRESS)


@click.command(cls=LakehouseCommand)
@with_table(selector=True)
@click.option(
    "--older-than",
    type=DURATION,
    default=None,
    help="Expire snapshots older than this, e.g. 7d (default: history.expire.* or 5d).",
)
@click.option(
    "--retain-last",
    type=click.IntRange(min=1),
    default=None,
    help="Ancestors each branch keeps at least (default: history.expire.* or 1).",
)
@click.option(
    "--keep-files",
    is_flag=True,
    help="Commit the expiry but leave unreferenced files in storage (needed on Nessie).",
)
@confirmed
def expire(
    tables: list[LakehouseTable],
    older_than: timedelta | None,
    retain_last: int | None,
    keep_files: bool,
    confirmation: Confirmation,
) -> None:
    """Expire old snapshots and delete the files only they referenced.

    TABLE is a name (raw.events) or a pattern (raw.*, *.events).

    Example: phlo-lakehouse expire demo.events --older-than 7d --retain-last 5 --yes
    """
    from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation

    state = current_state()
    if state.lakehouse.is_nessie and not keep_files:
        raise InvalidInput(
            "expire reclaims nothing on a Nessie catalog: each commit's table metadata holds one "
            "snapshot, and older table states live in Nessie's commit log, not in the table",
            hint="run `phlo-lakehouse gc --cutoff P5D` (Nessie GC: its cutoff policies replace "
            "snapshot retention, see docs/nessie-gc.md); --keep-files expires metadata only",
        )
    operation = ExpireSnapshotsOperation(
        older_than=older_than, retain_last=retain_last, delete_files=not keep_files
    )
    run_operation(state, operation, tables, confirmation, EXPIRE_PROGRESS)


@click.command(cls=LakehouseCommand)
@with_table(selector=True)
@click.option(
    "--older-than",
    type=DURATION,
    default="3d",
    show_default=True,
    help="Only files older than this can be orphans (under 24h needs --force).",
)
@click.option(
    "--force", is_flag=True, help="Allow --older-than under 24h (no writer may be active)."
)
@click.option(
    "--location",
    default=None,
    help="Directory to scan inside the table location (default: the table location).",
)
@PREFIX_MISMATCH_OPTION
@confirmed
def vacuum(
    tables: list[LakehouseTable],
    older_than: timedelta,
    force: bool,
    location: str | None,
    prefix_mismatch: str,
    confirmation: Confirmation,
) -> None:
    """Delete orphan files no metadata references.

    Only files under the table location older than --older-than are candidates.

    TABLE is a name (raw.events) or a pattern (raw.*, *.events).

    Example: phlo-lakehouse vacuum demo.events --older-than 3d --yes
    """
    from phlo_lakehouse.operations.vacuum import VacuumOperation

    operation = VacuumOperation(
        older_than, force=force, location=location, prefix_mismatch=prefix_mismatch
    )
    run_operation(current_state(), operation, tables, confirmation, VACUUM_PROGRESS)


@click.group(cls=LakehouseGroup)
def manifests() -> None:
    """Manifest maintenance."""


@manifests.command()
@with_table(selector=True)
@click.option(
    "--target-manifest-size",
    type=FILE_SIZE,
    default=None,
    help="Manifest size, e.g. 8MB (default: commit.manifest.target-size-bytes, else 8MB).",
)
@click.option("--rewrite-all", is_flag=True, help="Rewrite even when it saves no manifests.")
@confirmed
def rewrite(
    tables: list[LakehouseTable],
    target_manifest_size: int | None,
    rewrite_all: bool,
    confirmation: Confirmation,
) -> None:
    """Rewrite data manifests clustered by partition, so scans prune whole manifests.

    TABLE is a name (raw.events) or a pattern (raw.*, *.events).

    Example: phlo-lakehouse manifests rewrite demo.events --yes
    """
    from phlo_lakehouse.operations.manifests import RewriteManifestsOperation

    operation = RewriteManifestsOperation(
        target_manifest_size=target_manifest_size, rewrite_all=rewrite_all
    )
    run_operation(current_state(), operation, tables, confirmation, MANIFESTS_PROGRESS)
