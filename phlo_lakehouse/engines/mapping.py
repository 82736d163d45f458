"""Our operations as Iceberg Spark procedure calls, and the procedures' output as our results.

Options map one to one; what a procedure cannot express is an `InvalidInput` before Spark is
contacted, never silently dropped:

==================  ===========================================================================
optimize            ``rewrite_data_files``: strategy binpack / sort (``sort_order`` from
                    ``sort_by``, else the table's order) / zorder (``sort_order => 'zorder(..)'``);
                    ``where`` from ``partition_filter``; options target-file-size-bytes (the
                    plan's target), min-input-files, min-/max-file-size-bytes (ratios × target),
                    max-file-group-size-bytes, rewrite-all, delete-ratio-threshold,
                    partial-progress.enabled, max-concurrent-file-group-rewrites.
                    Not expressible: ``files=`` (Spark selects files itself); refs other than
                    ``main`` of a table's own branches (Iceberg 1.10 rewrites main only).
expire              ``expire_snapshots``: ``older_than`` = the plan's cutoff, ``retain_last`` =
                    the plan's resolved minimum. Not expressible: ``delete_files=False`` (the
                    procedure always deletes), ``now=`` (Spark measures ref ages by its clock).
vacuum              ``remove_orphan_files``: ``older_than`` = the plan's cutoff (so ``now=`` maps
                    too), ``location``, ``prefix_mismatch_mode`` ERROR/IGNORE/DELETE,
                    ``max_concurrent_deletes`` = ``threads``. Not expressible: a cutoff under
                    24 hours old (the procedure refuses it; ``force=True`` only works locally).
rewrite_manifests   ``rewrite_manifests``. Not expressible: ``target_manifest_size`` other than
                    the table's ``commit.manifest.target-size-bytes`` (the procedure reads the
                    property), data manifests of several partition specs (one spec per call).
==================  ===========================================================================

``rewrite_all`` of rewrite_manifests needs no argument: the plan decides whether to rewrite,
and the procedure, like our operation, then rewrites every data manifest.

Results carry the plan's figure keys with what Spark reports (output rows, and the summaries of
the snapshots it committed); figures Spark does not report are the plan's, as the local engine
reports them, and ``details["figures_from_plan"]`` names them.

Example:
    >>> from phlo_lakehouse.operations import ExpireSnapshotsOperation
    >>> try:
    ...     check_mappable(ExpireSnapshotsOperation(delete_files=False))
    ... except InvalidInput as error:
    ...     print(error.message[:52])
    expire delete_files=False cannot be expressed: Spark
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.engines.sql import (
    LOCAL_ENGINE,
    LOCAL_HINT,
    option_text,
    or_local_engine,
    quote_column,
    quote_identifier,
    spark_filter,
    sql_map,
    sql_string,
    sql_timestamp,
)
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.units import format_duration
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from phlo_lakehouse.operations.base import OperationPlan, TableOperation
    from phlo_lakehouse.table import LakehouseTable

PROCEDURES = {
    "optimize": "rewrite_data_files",
    "expire": "expire_snapshots",
    "vacuum": "remove_orphan_files",
    "rewrite_manifests": "rewrite_manifests",
}
#: Every option attribute of each operation, all mapped below (a new option fails loudly).
_OPTIONS = {
    "optimize": {
        "strategy", "sort_keys", "zorder_by", "target_file_size", "min_input_files", "min_ratio",
        "max_ratio", "max_group_bytes", "partition_filter", "rewrite_all", "delete_ratio",
        "partial_progress", "only_files", "max_concurrent_groups", "stitch", "options",
    },
    "expire": {"older_than", "retain_last", "delete_files", "now"},
    "vacuum": {"older_than", "force", "location", "prefix_mismatch", "now", "threads"},
    "rewrite_manifests": {"target", "rewrite_all"},
}  # fmt: skip
#: remove_orphan_files refuses cutoffs younger than this; the margin covers clock skew.
ORPHAN_MIN_AGE = timedelta(hours=24)
_ORPHAN_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class ProcedureCall:
    """One ``CALL <catalog>.system.<procedure>(name => literal, ...)``.

    Attributes:
        procedure: the Iceberg procedure, e.g. "rewrite_data_files".
        arguments: argument name → SQL literal, in call order.
    """

    procedure: str
    arguments: Mapping[str, str] = field(default_factory=dict)

    def sql(self, catalog: str) -> str:
        """The statement for the Spark catalog ``catalog``.

        Example:
            >>> ProcedureCall("rewrite_manifests", {"table": "'`a`.`b`'"}).sql("lakehouse")
            "CALL `lakehouse`.system.rewrite_manifests(table => '`a`.`b`')"
        """
        arguments = ", ".join(f"{name} => {value}" for name, value in self.arguments.items())
        return f"CALL {quote_identifier(catalog)}.system.{self.procedure}({arguments})"


def check_mappable(operation: TableOperation) -> None:
    """Fail when an option of ``operation`` has no Spark procedure equivalent (no table needed).

    Raises:
        InvalidInput: naming the option and what to do instead.
    """
    from phlo_lakehouse.operations import (
        ExpireSnapshotsOperation,
        OptimizeOperation,
        VacuumOperation,
    )

    kind = operation.name
    if kind not in PROCEDURES:
        raise InvalidInput(
            f"the Spark engine has no procedure for the {kind} operation", hint=LOCAL_HINT
        )
    unknown = sorted({k for k in vars(operation) if not k.startswith("_")} - _OPTIONS[kind])
    if unknown:
        raise InvalidInput(
            f"{kind} option(s) {', '.join(unknown)} have no Spark procedure mapping",
            hint=or_local_engine("map them in phlo_lakehouse.engines.mapping"),
        )
    if isinstance(operation, OptimizeOperation) and operation.only_files is not None:
        raise InvalidInput(
            "optimize files= (a subset of data files) cannot be expressed in Spark's "
            "rewrite_data_files, which selects and groups files itself",
            hint=or_local_engine(
                "drop {} (with {} Spark commits file groups on its own)",
                Arg("files", group="optimize"),
                Arg("partial_progress", True, group="optimize"),
            ),
        )
    if isinstance(operation, OptimizeOperation) and operation.stitch == "always":
        raise InvalidInput(
            Phrase(
                "optimize {} cannot be expressed: Spark's rewrite_data_files always "
                "decodes and re-encodes rows",
                Arg("stitch", "always", group="optimize"),
            ),
            hint=or_local_engine(
                "use {} or {}",
                Arg("stitch", "auto", group="optimize"),
                Arg("stitch", "never", group="optimize"),
            ),
        )
    if isinstance(operation, ExpireSnapshotsOperation) and not operation.delete_files:
        raise InvalidInput(
            Phrase(
                "expire {} cannot be expressed: Spark's expire_snapshots always "
                "deletes the files only expired snapshots reference",
                Arg("delete_files", False, group="expire", flag="--keep-files"),
            ),
            hint=Phrase("on Nessie let Nessie GC delete files, i.e. {}", LOCAL_HINT),
        )
    if isinstance(operation, ExpireSnapshotsOperation) and operation.now is not None:
        raise InvalidInput(
            "expire now= cannot be expressed: Spark's expire_snapshots measures snapshot and ref "
            "ages from its own clock",
            hint=or_local_engine("omit now="),
        )
    if isinstance(operation, VacuumOperation) and operation.older_than < ORPHAN_MIN_AGE:
        raise InvalidInput(
            Phrase(
                "vacuum {} cannot be expressed: Spark's remove_orphan_files refuses cutoffs "
                "less than 24 hours old ({} is ours)",
                Arg("older_than", format_duration(operation.older_than), group="vacuum"),
                Arg("force", True, group="vacuum"),
            ),
            hint=or_local_engine("use {} or more", Arg("older_than", "24h", group="vacuum")),
        )


def procedure_call(
    operation: TableOperation, table: LakehouseTable, plan: OperationPlan, *, now: datetime
) -> ProcedureCall | None:
    """The procedure call that carries out ``plan``, or None when the plan has nothing to do.

    Args:
        operation: the operation that made ``plan``.
        table: the table as planned.
        plan: the plan (its resolved target size, cutoff and retention are what Spark gets).
        now: the current time (for the orphan cutoff's 24-hour check).

    Raises:
        InvalidInput: an option, ref or cutoff the procedure cannot express.
    """
    from phlo_lakehouse.operations import VacuumOperation

    check_mappable(operation)
    kind = operation.name
    if kind in ("optimize", "rewrite_manifests") and not table.nessie and table.ref != "main":
        raise InvalidInput(
            f"Spark's {PROCEDURES[kind]} only rewrites a table's main branch, not {table.ref!r}",
            hint=Phrase("run it on the local engine ({}) for table branches", LOCAL_ENGINE),
        )
    if kind == "rewrite_manifests" and table.table.metadata.format_version >= 3:
        raise InvalidInput(
            "Spark's rewrite_manifests gives every row of a format v3 table a new _row_id "
            "(Iceberg 1.10.2, apache/iceberg#16699)",
            hint=Phrase("run it on the local engine ({}), which keeps row lineage", LOCAL_ENGINE),
        )
    # Every check runs before the "nothing to do" answer: an option Spark cannot express fails
    # whatever the table's state, not only once there is work.
    name = {"table": sql_string(".".join(map(quote_identifier, table.identifier.as_tuple())))}
    if kind == "optimize":
        call = _rewrite_data_files(operation, plan, name)
        return call if plan.details["groups"] else None
    if kind == "expire":
        cutoff = datetime.fromisoformat(plan.details["expire_older_than"])
        retain_last = int(plan.details["min_snapshots_to_keep"])
        call = ProcedureCall(
            "expire_snapshots",
            {**name, "older_than": sql_timestamp(cutoff), "retain_last": str(retain_last)},
        )
        work = plan.details["expired_snapshot_ids"] or plan.details["removed_refs"]
        return call if work else None
    if isinstance(operation, VacuumOperation):
        call = orphan_files_call(
            table,
            plan,
            now=now,
            dry_run=False,
            threads=operation.threads,
            prefix_mismatch=operation.prefix_mismatch,
        )
        return call if plan.details["orphan_files"] else None
    _check_manifest_target(operation, table)
    specs = _data_manifest_specs(table)
    if len(specs) > 1:
        raise InvalidInput(
            f"{table} has data manifests of {len(specs)} partition specs; Spark's "
            "rewrite_manifests rewrites one spec per call",
            hint=LOCAL_HINT,
        )
    return (
        ProcedureCall("rewrite_manifests", name) if plan.figures["manifests_to_rewrite"] else None
    )


def orphan_files_call(
    table: LakehouseTable,
    plan: OperationPlan,
    *,
    now: datetime,
    dry_run: bool,
    threads: int | None = None,
    prefix_mismatch: str = "error",
) -> ProcedureCall:
    """The ``remove_orphan_files`` call for a vacuum plan (``dry_run``: Spark's own preview).

    Raises:
        InvalidInput: not a vacuum plan, or its cutoff is less than 24 hours before ``now``.
    """
    if plan.operation != "vacuum":
        raise InvalidInput(f"{plan.operation} is not a vacuum plan", hint="plan a vacuum first")
    cutoff = datetime.fromisoformat(plan.details["cutoff"])
    if now - cutoff < ORPHAN_MIN_AGE + _ORPHAN_MARGIN:
        raise InvalidInput(
            f"the vacuum cutoff {cutoff.isoformat()} is less than 24 hours before now: Spark's "
            "remove_orphan_files refuses it",
            hint=or_local_engine(
                "use {} or more (and now= no later than the present)",
                Arg("older_than", "24h", group="vacuum"),
            ),
        )
    arguments = {
        "table": sql_string(".".join(map(quote_identifier, table.identifier.as_tuple()))),
        "older_than": sql_timestamp(cutoff),
        "location": sql_string(plan.details["location"]),
        "dry_run": "true" if dry_run else "false",
        "prefix_mismatch_mode": sql_string(prefix_mismatch.upper()),
    }
    if threads is not None:
        arguments["max_concurrent_deletes"] = str(int(threads))
    return ProcedureCall("remove_orphan_files", arguments)


def _rewrite_data_files(
    operation: Any, plan: OperationPlan, name: Mapping[str, str]
) -> ProcedureCall:
    target = int(plan.details["target_file_size"])
    arguments = dict(name)
    if operation.strategy == "binpack":
        arguments["strategy"] = sql_string("binpack")
    else:
        arguments["strategy"] = sql_string("sort")
        if operation.strategy == "zorder":
            columns = ", ".join(quote_column(c) for c in operation.zorder_by)
            arguments["sort_order"] = sql_string(f"zorder({columns})")
        elif operation.sort_keys:  # else: Spark sorts by the table's sort order, as we do
            terms = ", ".join(_sort_term(*key) for key in operation.sort_keys)
            arguments["sort_order"] = sql_string(terms)
    options = {
        "target-file-size-bytes": target,
        "min-input-files": operation.min_input_files,
        "min-file-size-bytes": int(operation.min_ratio * target),
        "max-file-size-bytes": int(operation.max_ratio * target),
        "max-file-group-size-bytes": operation.max_group_bytes,
        "rewrite-all": operation.rewrite_all,
        "delete-ratio-threshold": operation.delete_ratio,
        "partial-progress.enabled": operation.partial_progress,
        "max-concurrent-file-group-rewrites": operation.max_concurrent_groups,
        **_rewrite_options(operation.options),
    }
    arguments["options"] = sql_map({k: option_text(v) for k, v in options.items()})
    if operation.partition_filter:
        from pyiceberg.expressions.parser import parse

        arguments["where"] = sql_string(spark_filter(parse(operation.partition_filter)))
    return ProcedureCall("rewrite_data_files", arguments)


def _rewrite_options(options: Any) -> dict[str, Any]:
    """Spark 1.10's rewrite options of `rewrite_options.RewriteOptions`, by Spark's names (the
    unset ones left to Spark's defaults, which are ours)."""
    mapped = {
        "remove-dangling-deletes": options.remove_dangling_deletes,
        "rewrite-job-order": options.rewrite_job_order,
        "partial-progress.max-commits": options.max_commits,
        "use-starting-sequence-number": options.use_starting_sequence_number,
        "partial-progress.max-failed-commits": options.max_failed_commits,
        "delete-file-threshold": options.delete_file_threshold,
        "output-spec-id": options.output_spec_id,
    }
    return {k: v for k, v in mapped.items() if v is not None}


def _sort_term(column: str, direction: str, nulls: str) -> str:
    order = "ASC" if direction == "ascending" else "DESC"
    placement = "FIRST" if nulls == "at_start" else "LAST"
    return f"{quote_column(column)} {order} NULLS {placement}"


def _check_manifest_target(operation: Any, table: LakehouseTable) -> None:
    from phlo_lakehouse.operations.manifests import (
        DEFAULT_MANIFEST_TARGET,
        MANIFEST_TARGET_PROPERTY,
    )

    if operation.target is None:
        return
    configured = int(table.table.properties.get(MANIFEST_TARGET_PROPERTY, DEFAULT_MANIFEST_TARGET))
    if operation.target != configured:
        raise InvalidInput(
            Phrase(
                "rewrite_manifests {} cannot be expressed: Spark's rewrite_manifests uses the "
                f"table property {MANIFEST_TARGET_PROPERTY} ({configured})",
                Arg("target_manifest_size", operation.target, group="rewrite_manifests"),
            ),
            hint=or_local_engine(
                "set the table property instead, omit {}",
                Arg("target_manifest_size", group="rewrite_manifests"),
            ),
        )


def _data_manifest_specs(table: LakehouseTable) -> set[int]:
    from pyiceberg.manifest import ManifestContent

    snapshot = table.snapshot
    if snapshot is None:
        return set()
    return {
        m.partition_spec_id
        for m in snapshot.manifests(table.table.io)
        if m.content == ManifestContent.DATA
    }


# -- SQL literals ---------------------------------------------------------------------------------


# -- results ------------------------------------------------------------------------------------
