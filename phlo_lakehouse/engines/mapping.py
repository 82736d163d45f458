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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from pyiceberg.table.metadata import TableMetadata

    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
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
_LOCAL_HINT = "run it on the local engine (engine='local')"


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
    kind = operation.name
    if kind not in PROCEDURES:
        raise InvalidInput(
            f"the Spark engine has no procedure for the {kind} operation", hint=_LOCAL_HINT
        )
    unknown = sorted({k for k in vars(operation) if not k.startswith("_")} - _OPTIONS[kind])
    if unknown:
        raise InvalidInput(
            f"{kind} option(s) {', '.join(unknown)} have no Spark procedure mapping",
            hint=f"map them in phlo_lakehouse.engines.mapping, or {_LOCAL_HINT}",
        )
    if kind == "optimize" and operation.only_files is not None:
        raise InvalidInput(
            "optimize files= (a subset of data files) cannot be expressed in Spark's "
            "rewrite_data_files, which selects and groups files itself",
            hint="drop files= (with partial_progress Spark commits file groups on its own), "
            f"or {_LOCAL_HINT}",
        )
    if kind == "optimize" and operation.stitch == "always":
        raise InvalidInput(
            "optimize stitch='always' cannot be expressed: Spark's rewrite_data_files always "
            "decodes and re-encodes rows",
            hint=f"use stitch='auto' or 'never', or {_LOCAL_HINT}",
        )
    if kind == "expire" and not operation.delete_files:
        raise InvalidInput(
            "expire delete_files=False cannot be expressed: Spark's expire_snapshots always "
            "deletes the files only expired snapshots reference",
            hint=f"on Nessie let Nessie GC delete files, i.e. {_LOCAL_HINT}",
        )
    if kind == "expire" and operation.now is not None:
        raise InvalidInput(
            "expire now= cannot be expressed: Spark's expire_snapshots measures snapshot and ref "
            "ages from its own clock",
            hint=f"omit now=, or {_LOCAL_HINT}",
        )
    if kind == "vacuum" and operation.older_than < ORPHAN_MIN_AGE:
        raise InvalidInput(
            f"vacuum older_than={operation.older_than} cannot be expressed: Spark's "
            "remove_orphan_files refuses cutoffs less than 24 hours old (force=True is ours)",
            hint=f"use older_than of 24h or more, or {_LOCAL_HINT}",
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
    check_mappable(operation)
    kind = operation.name
    if kind in ("optimize", "rewrite_manifests") and not table.nessie and table.ref != "main":
        raise InvalidInput(
            f"Spark's {PROCEDURES[kind]} only rewrites a table's main branch, not {table.ref!r}",
            hint=f"{_LOCAL_HINT} for table branches",
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
    if kind == "vacuum":
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
            hint=_LOCAL_HINT,
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
            hint=f"use older_than of 24h or more (and now= no later than the present), or "
            f"{_LOCAL_HINT}",
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
            columns = ", ".join(quote_identifier(c) for c in operation.zorder_by)
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
    arguments["options"] = sql_map({k: _option_text(v) for k, v in options.items()})
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
    }
    return {k: v for k, v in mapped.items() if v is not None}


def _sort_term(column: str, direction: str, nulls: str) -> str:
    order = "ASC" if direction == "ascending" else "DESC"
    placement = "FIRST" if nulls == "at_start" else "LAST"
    return f"{quote_identifier(column)} {order} NULLS {placement}"


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
            f"rewrite_manifests target_manifest_size={operation.target} cannot be expressed: "
            f"Spark's rewrite_manifests uses the table property {MANIFEST_TARGET_PROPERTY} "
            f"({configured})",
            hint=f"set the table property instead, omit target_manifest_size, or {_LOCAL_HINT}",
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


def quote_identifier(name: str) -> str:
    """A Spark SQL identifier in backticks.

    Example:
        >>> quote_identifier("my`table")
        '`my``table`'
    """
    return "`" + name.replace("`", "``") + "`"


def sql_string(value: str) -> str:
    r"""A Spark SQL string literal (backslash escapes, as Spark's parser reads them).

    Example:
        >>> print(sql_string("it's a \\ path"))
        'it\'s a \\ path'
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_timestamp(moment: datetime) -> str:
    """A Spark ``TIMESTAMP`` literal in UTC (independent of the session time zone).

    Example:
        >>> sql_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        "TIMESTAMP '2026-01-02 03:04:05.000000Z'"
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"TIMESTAMP '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}Z'"


def sql_map(entries: Mapping[str, str]) -> str:
    """A ``map('k', 'v', ...)`` literal of strings.

    Example:
        >>> sql_map({"rewrite-all": "true"})
        "map('rewrite-all', 'true')"
    """
    return "map(" + ", ".join(f"{sql_string(k)}, {sql_string(v)}" for k, v in entries.items()) + ")"


def _option_text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def spark_filter(expression: Any) -> str:
    """A PyIceberg boolean expression (as `pyiceberg.expressions.parser.parse` returns it) in
    Spark SQL, for ``rewrite_data_files(where => ...)``.

    Raises:
        InvalidInput: an expression kind Spark's ``where`` cannot take.

    Example:
        >>> from pyiceberg.expressions.parser import parse
        >>> spark_filter(parse("kind in ('a', 'b') and not amount < 3"))
        "(`kind` IN ('a', 'b') AND NOT (`amount` < 3))"
    """
    from pyiceberg.expressions import (
        AlwaysFalse,
        AlwaysTrue,
        And,
        BoundPredicate,
        Not,
        Or,
        UnboundPredicate,
    )

    if isinstance(expression, AlwaysTrue):
        return "true"
    if isinstance(expression, AlwaysFalse):
        return "false"
    if isinstance(expression, And):
        return f"({spark_filter(expression.left)} AND {spark_filter(expression.right)})"
    if isinstance(expression, Or):
        return f"({spark_filter(expression.left)} OR {spark_filter(expression.right)})"
    if isinstance(expression, Not):
        return f"NOT ({spark_filter(expression.child)})"
    if isinstance(expression, UnboundPredicate | BoundPredicate):
        return _predicate(expression)
    raise InvalidInput(
        f"partition_filter part {expression!r} has no Spark SQL form", hint=_LOCAL_HINT
    )


_COMPARISONS = {
    "EqualTo": "=",
    "NotEqualTo": "!=",
    "LessThan": "<",
    "LessThanOrEqual": "<=",
    "GreaterThan": ">",
    "GreaterThanOrEqual": ">=",
}


def _predicate(predicate: Any) -> str:
    kind = type(predicate).__name__
    column = ".".join(quote_identifier(p) for p in predicate.term.name.split("."))
    if kind in _COMPARISONS:
        return f"{column} {_COMPARISONS[kind]} {_literal(predicate.literal.value)}"
    if kind in ("In", "NotIn"):
        values = ", ".join(sorted(_literal(lit.value) for lit in predicate.literals))
        return f"{column} {'IN' if kind == 'In' else 'NOT IN'} ({values})"
    simple = {
        "IsNull": f"{column} IS NULL",
        "NotNull": f"{column} IS NOT NULL",
        "IsNaN": f"isnan({column})",
        "NotNaN": f"NOT isnan({column})",
    }
    if kind in simple:
        return simple[kind]
    if kind in ("StartsWith", "NotStartsWith"):
        test = f"startswith({column}, {_literal(predicate.literal.value)})"
        return test if kind == "StartsWith" else f"NOT {test}"
    raise InvalidInput(f"partition_filter predicate {kind} has no Spark SQL form", hint=_LOCAL_HINT)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return sql_string(value)
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        return str(value)
    raise InvalidInput(
        f"partition_filter literal {value!r} has no Spark SQL form", hint=_LOCAL_HINT
    )


# -- results ------------------------------------------------------------------------------------


def unchanged(
    operation: TableOperation,
    table: LakehouseTable,
    plan: OperationPlan,
    details: Mapping[str, Any],
) -> OperationResult:
    """The result of a plan with nothing to do (no procedure was called)."""
    from phlo_lakehouse.operations.base import OperationResult

    return OperationResult(
        operation=operation.name,
        table=plan.table,
        ref=plan.ref,
        dry_run=False,
        committed=False,
        snapshot_id_before=plan.snapshot_id,
        snapshot_id_after=plan.snapshot_id,
        figures=dict(plan.figures),
        plan=plan,
        details={**plan.details, **details},
    )


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
    return OperationResult(
        operation=operation.name,
        table=plan.table,
        ref=plan.ref,
        dry_run=False,
        committed=committed,
        snapshot_id_before=plan.snapshot_id,
        snapshot_id_after=after.snapshot_id,
        figures=figures,
        plan=plan,
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
    rewritten = int(row.get("rewritten_data_files_count") or 0)
    figures = {
        "files_to_rewrite": rewritten,
        "bytes_to_rewrite": int(row.get("rewritten_bytes_count") or 0),
        "rows_to_rewrite": _total(summaries, "deleted-records"),
        "expected_output_files": int(row.get("added_data_files_count") or 0),
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
    from phlo_lakehouse.operations.files import normalize_location

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
