"""The run config of the maintenance jobs: every field typed, described and pre-filled.

`OPERATION_SETTINGS` is the one table of each operation's run-config settings (type, default,
description); the launchpad shows them with the factory's values filled in, enums for fixed
choices. An operation added to the Dagster layer adds its settings here (see
``phlo_lakehouse.dagster.factories`` for the rest of the recipe).

Example:
    >>> schema = selection_schema(
    ...     ("vacuum",), tables=["raw.*"], ref=None, settings={"vacuum": default_settings("vacuum")}
    ... )
    >>> sorted(schema)
    ['dry_run', 'engine', 'ref', 'tables', 'vacuum']
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from phlo_lakehouse.engines import ENGINE_KINDS
from phlo_lakehouse.operations.optimize import STRATEGIES
from phlo_lakehouse.operations.orphans import PREFIX_MISMATCH_MODES
from phlo_lakehouse.operations.position_delete_files import GRANULARITIES
from phlo_lakehouse.operations.rewrite_options import DEFAULT_MAX_COMMITS, JOB_ORDERS
from phlo_lakehouse.operations.stitch import STITCH_MODES


def _enum(name: str, values: Sequence[str]) -> dg.Enum:
    return dg.Enum(name, [dg.EnumValue(v) for v in values])


STRATEGY = _enum("LakehouseOptimizeStrategy", STRATEGIES)
PREFIX_MISMATCH = _enum("LakehouseVacuumPrefixMismatch", PREFIX_MISMATCH_MODES)
ENGINE = _enum("LakehouseEngine", ENGINE_KINDS)
JOB_ORDER = _enum("LakehouseRewriteJobOrder", JOB_ORDERS)
DELETE_GRANULARITY = _enum("LakehouseDeleteGranularity", GRANULARITIES)
STITCH = _enum("LakehouseOptimizeStitch", STITCH_MODES)


@dataclass(frozen=True)
class Setting:
    """One run-config setting of an operation.

    Attributes:
        default: the value when neither the factory nor the run sets one (None: the
            operation's own default, e.g. the table's ``write.target-file-size-bytes``).
        config_type: the Dagster config type.
        description: what the launchpad shows beside the field.
        required: the operation cannot run without it (no default): its job exists only when
            the factory is given a value.
    """

    default: Any
    config_type: Any
    description: str
    required: bool = False


_SIZE = "bytes or a size such as 128MB"
_DURATION = "a duration such as 36h, 5d or P5D"

#: Each operation's run-config settings, in launchpad order.
OPERATION_SETTINGS: dict[str, dict[str, Setting]] = {
    "optimize": {
        "strategy": Setting(
            "binpack",
            STRATEGY,
            "binpack combines small files; sort rewrites them ordered by sort_by (or the "
            "table's sort order); zorder interleaves the zorder_by columns.",
        ),
        "sort_by": Setting(
            [], [str], "Columns for strategy sort, e.g. ['user_id', 'event_time desc nulls last']."
        ),
        "zorder_by": Setting([], [str], "Columns for strategy zorder, e.g. ['lat', 'lon']."),
        "target_file_size": Setting(
            None,
            dg.Noneable(str),
            f"Size of the files written ({_SIZE}); null: the table's "
            "write.target-file-size-bytes, else 512MB.",
        ),
        "min_input_files": Setting(
            5, int, "A file group is rewritten only with at least this many files."
        ),
        "max_file_group_size": Setting(
            "1GB", str, f"Most input bytes in one file group ({_SIZE})."
        ),
        "partition_filter": Setting(
            None,
            dg.Noneable(str),
            "Only files that may hold rows matching this expression, e.g. "
            "\"event_time >= '2026-01-02T00:00:00+00:00'\"; null: every file.",
        ),
        "rewrite_all": Setting(False, bool, "Rewrite every selected file, whatever its size."),
        "partial_progress": Setting(
            False,
            bool,
            "Commit each file group on its own; lakehouse_optimize then runs one step per "
            "group, in parallel on a multiprocess executor.",
        ),
        "remove_dangling_deletes": Setting(
            True,
            bool,
            "Also remove delete files that apply to no live data file (Spark's "
            "remove-dangling-deletes).",
        ),
        "rewrite_job_order": Setting(
            "none",
            JOB_ORDER,
            "Order the file groups run and commit in: by input bytes or file count, ascending "
            "or descending; none: partition order.",
        ),
        "max_commits": Setting(
            DEFAULT_MAX_COMMITS,
            int,
            "With partial_progress in one process (the API or CLI): commit the groups in at most "
            "this many commits. The Dagster job's per-group steps commit one group each.",
        ),
        "max_failed_commits": Setting(
            None,
            dg.Noneable(int),
            "With partial_progress: commits a concurrent change may refuse before the run "
            "fails; null: as many as max_commits.",
        ),
        "delete_file_threshold": Setting(
            None,
            dg.Noneable(int),
            "Rewrite a data file once this many delete files apply to it; null: only the "
            "share of deleted rows decides.",
        ),
        "use_starting_sequence_number": Setting(
            True,
            bool,
            "Rewritten files keep the data sequence number of the snapshot the compaction "
            "started from, so deletes committed meanwhile still apply to them.",
        ),
        "output_spec_id": Setting(
            None,
            dg.Noneable(int),
            "Partition spec the rewritten files are written in; null: the table's current "
            "spec (after partition evolution, older specs' files are rewritten into it).",
        ),
        "stitch": Setting(
            None,
            dg.Noneable(STITCH),
            "Row-group stitching: auto copies whole row groups without decoding when safe, "
            "always does so for every safe group whatever its row-group size, never always "
            "decodes; null: the table property phlo-lakehouse.optimize.stitch, else auto.",
        ),
    },
    "expire": {
        "older_than": Setting(
            None,
            dg.Noneable(str),
            f"Expire snapshots older than this ({_DURATION}); null: the table's "
            "history.expire.max-snapshot-age-ms, else 5d.",
        ),
        "retain_last": Setting(
            None,
            dg.Noneable(int),
            "Keep at least this many snapshots per branch; null: the table's "
            "history.expire.min-snapshots-to-keep, else 1.",
        ),
        "delete_files": Setting(True, bool, "Delete the files only the expired snapshots reached."),
    },
    "vacuum": {
        "older_than": Setting(
            "3d",
            str,
            f"Only delete orphan files older than this ({_DURATION}); under 24h needs force.",
        ),
        "force": Setting(
            False, bool, "Allow older_than under 24h (a running writer's files may be deleted)."
        ),
        "prefix_mismatch": Setting(
            "error",
            PREFIX_MISMATCH,
            "A listed file whose scheme or authority differs from the table location's: error "
            "stops, ignore keeps it, delete treats it as an orphan.",
        ),
        "location": Setting(
            None,
            dg.Noneable(str),
            "List only this directory inside the table location; null: the whole location.",
        ),
    },
    "rewrite_manifests": {
        "target_manifest_size": Setting(
            None,
            dg.Noneable(str),
            f"Size of the manifests written ({_SIZE}); null: the table's "
            "commit.manifest.target-size-bytes, else 8MB.",
        ),
        "rewrite_all": Setting(
            False, bool, "Rewrite every manifest, not only small or badly clustered ones."
        ),
    },
    "remove_dangling_deletes": {},
    "rewrite_position_deletes": {
        "target_file_size": Setting(
            None,
            dg.Noneable(str),
            f"Size of the delete files written ({_SIZE}); null: the table's "
            "write.delete.target-file-size-bytes, else 64MB.",
        ),
        "min_input_files": Setting(
            5, int, "A group of delete files is rewritten only with at least this many files."
        ),
        "max_file_group_size": Setting(
            "1GB", str, f"Most input bytes in one group of delete files ({_SIZE})."
        ),
        "partition_filter": Setting(
            None,
            dg.Noneable(str),
            "Only delete files of partitions that may hold rows matching this expression; "
            "null: every partition.",
        ),
        "rewrite_all": Setting(
            False, bool, "Consider every position delete file, whatever its size."
        ),
        "delete_granularity": Setting(
            None,
            dg.Noneable(DELETE_GRANULARITY),
            "file: one delete file per data file; partition: one per partition; null: the "
            "table's write.delete.granularity, else file (Spark's default).",
        ),
        "partial_progress": Setting(
            False, bool, "Commit the groups in batches (at most max_commits commits)."
        ),
        "max_commits": Setting(
            DEFAULT_MAX_COMMITS, int, "With partial_progress: commit in at most this many commits."
        ),
        "rewrite_job_order": Setting(
            "none", JOB_ORDER, "Order the groups run and commit in; none: partition order."
        ),
    },
    "data_retention": {
        "column": Setting(
            None,
            str,
            "The top-level timestamp or date column rows age by, e.g. event_time.",
            required=True,
        ),
        "retention": Setting(
            None,
            str,
            f"Delete rows older than this ({_DURATION}; positive), e.g. 365d.",
            required=True,
        ),
    },
    "compute_table_stats": {
        "columns": Setting(
            [], [str], "Top-level primitive columns to sketch; empty: every such column."
        ),
    },
}


def default_settings(kind: str) -> dict[str, Any]:
    """The run-config defaults of operation ``kind`` (a fresh copy).

    Example:
        >>> default_settings("expire")["delete_files"]
        True
    """
    return {key: _copy(s.default) for key, s in OPERATION_SETTINGS[kind].items()}


def settings_schema(kind: str, values: dict[str, Any]) -> dg.Field:
    """The config field of one operation's settings, pre-filled with ``values``."""
    fields = {
        key: dg.Field(
            setting.config_type,
            default_value=_copy(values[key]),
            is_required=False,
            description=setting.description,
        )
        for key, setting in OPERATION_SETTINGS[kind].items()
    }
    # The default at this level is what makes the launchpad show every setting filled in.
    return dg.Field(
        fields,
        default_value={k: _copy(v) for k, v in values.items()},
        is_required=False,
        description=f"Settings of {kind}, pre-filled with the job's defaults.",
    )


def selection_schema(
    kinds: Sequence[str], *, tables: list[str], ref: str | None, settings: dict[str, dict]
) -> dict[str, dg.Field]:
    """The config schema of a maintenance job's selection op."""
    return {
        "tables": _tables_field(tuple(tables)),
        "ref": dg.Field(
            dg.Noneable(str),
            default_value=ref,
            is_required=False,
            description="Branch to maintain; null: the resource's default_ref.",
        ),
        "dry_run": dg.Field(
            bool,
            default_value=False,
            is_required=False,
            description="Plan only: report what each operation would do and change nothing. "
            "Dry runs add no observation to the tables' assets.",
        ),
        "engine": dg.Field(
            dg.Noneable(ENGINE),
            default_value=None,
            is_required=False,
            description="local (this process), spark (Iceberg's Spark procedures) or auto "
            "(spark for large tables); null: the resource's engine.",
        ),
        **{kind: settings_schema(kind, settings[kind]) for kind in kinds},
    }


#: Up to this many table names are pre-filled in the launchpad; a longer list stays the job's
#: default without being spelled out (``tables: null``), which also keeps Dagster from
#: validating thousands of defaults in every job's config schema.
PREFILLED_TABLES = 100


@functools.lru_cache(maxsize=16)
def _tables_field(tables: tuple[str, ...]) -> dg.Field:
    if len(tables) > PREFILLED_TABLES:
        return dg.Field(
            dg.Noneable([str]),
            default_value=None,
            is_required=False,
            description=f"Table names or patterns resolved when the run starts; null: the "
            f"job's {len(tables):,} tables ({', '.join(tables[:3])}, …).",
        )
    return dg.Field(
        dg.Noneable([str]),
        default_value=list(tables),
        is_required=False,
        description="Table names or patterns resolved when the run starts, e.g. "
        "['raw.*', 'mart.sales']; null: the job's tables.",
    )


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
