"""`lakehouse_maintenance_definitions`: ops, jobs and schedules for table maintenance.

Jobs (names prefixed by ``prefix``):

- ``lakehouse_optimize`` — compaction; with ``optimize.partial_progress`` it fans out one op per
  file group, so any executor rewrites groups in parallel processes;
- ``lakehouse_expire``, ``lakehouse_vacuum``, ``lakehouse_rewrite_manifests``;
- ``lakehouse_maintenance`` — optimize → expire → vacuum per table, tables in parallel;
- ``lakehouse_gc`` (with ``gc=``, for Nessie catalogs) — Nessie GC over every reference
  (`phlo_lakehouse.dagster.gc`).

Tables are selected by identifiers or patterns and resolved inside the run, never at import.
Every job carries the tag ``phlo/lakehouse-maintenance`` so ``tag_concurrency_limits`` in
``dagster.yaml`` keeps two maintenance runs from working at once.

Example:
    >>> import dagster as dg
    >>> from phlo_lakehouse.dagster import (
    ...     LakehouseResource, MaintenanceSchedule, lakehouse_maintenance_definitions)
    >>> defs = dg.Definitions.merge(
    ...     lakehouse_maintenance_definitions(
    ...         tables=["raw.*"],
    ...         optimize={"target_file_size": "128MB"},
    ...         schedules=[MaintenanceSchedule("lakehouse_expire", "0 3 * * *")],
    ...     ),
    ...     dg.Definitions(resources={"lakehouse": LakehouseResource()}),
    ... )
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.gc import GC_JOB, GC_OP, build_gc_job
from phlo_lakehouse.dagster.ops import (
    build_collect_op,
    build_operation,
    build_select_op,
    build_table_op,
)
from phlo_lakehouse.dagster.run_config import OPERATION_SETTINGS, default_settings
from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.identifiers import TableSelector, validate_ref_name

MAINTENANCE_TAG = "phlo/lakehouse-maintenance"
JOB_KINDS: dict[str, tuple[str, ...]] = {
    "lakehouse_optimize": ("optimize",),
    "lakehouse_expire": ("expire",),
    "lakehouse_vacuum": ("vacuum",),
    "lakehouse_rewrite_manifests": ("rewrite_manifests",),
    "lakehouse_maintenance": ("optimize", "expire", "vacuum"),
    "lakehouse_remove_dangling_deletes": ("remove_dangling_deletes",),
    "lakehouse_compute_table_stats": ("compute_table_stats",),
    "lakehouse_rewrite_position_deletes": ("rewrite_position_deletes",),
}
#: Data retention needs a column and a retention, so its job exists only when configured.
RETENTION_JOB = "lakehouse_data_retention"
_DURATION_KEYS = {"older_than", "retention"}
_TEXT_KEYS = {"target_file_size", "max_file_group_size", "target_manifest_size", *_DURATION_KEYS}
_STATUSES = {
    "RUNNING": dg.DefaultScheduleStatus.RUNNING,
    "STOPPED": dg.DefaultScheduleStatus.STOPPED,
}


@dataclass(frozen=True)
class MaintenanceSchedule:
    """A schedule for one maintenance job.

    Attributes:
        job: job name without prefix, e.g. "lakehouse_expire".
        cron: cron expression, e.g. "0 3 * * *" (nightly at 03:00).
        timezone: IANA timezone of the cron expression.
        default_status: "RUNNING" or "STOPPED" when first deployed.
        run_config: run config overrides for the selection op (tables, dry_run, settings).
        description: shown in the UI; default: the job, cron and timezone in words.
    """

    job: str
    cron: str
    timezone: str = "UTC"
    default_status: str = "STOPPED"
    run_config: Mapping[str, Any] | None = None
    description: str | None = None


def lakehouse_maintenance_definitions(
    *,
    tables: Sequence[str] = ("*.*",),
    ref: str | None = None,
    optimize: Mapping[str, Any] | None = None,
    expire: Mapping[str, Any] | None = None,
    vacuum: Mapping[str, Any] | None = None,
    rewrite_manifests: Mapping[str, Any] | None = None,
    compute_table_stats: Mapping[str, Any] | None = None,
    rewrite_position_deletes: Mapping[str, Any] | None = None,
    data_retention: Mapping[str, Any] | None = None,
    gc: Mapping[str, Any] | None = None,
    schedules: Sequence[MaintenanceSchedule] = (),
    resource_key: str = "lakehouse",
    translator: LakehouseTranslator | None = None,
    prefix: str = "",
) -> dg.Definitions:
    """Maintenance jobs (and their schedules) over the tables matching ``tables``.

    Args:
        tables: selectors resolved at run time, e.g. ``["raw.*", "mart.sales"]``.
        ref: branch to maintain (default: the resource's default ref).
        optimize / expire / vacuum / rewrite_manifests / compute_table_stats /
            rewrite_position_deletes: default settings in run config, e.g.
            ``optimize={"target_file_size": "128MB", "strategy": "sort", "sort_by": ["ts"]}``.
        data_retention: ``{"column": "event_time", "retention": "365d"}`` adds the
            ``lakehouse_data_retention`` job (rows older than the retention deleted, every
            selected table the same column); None: no such job, and a schedule for it is an
            error.
        gc: on a Nessie catalog, settings of the ``lakehouse_gc`` job (Nessie GC over every
            reference, `phlo_lakehouse.dagster.gc`), e.g. ``{"cutoffs": ["P10D"]}``; None: no
            such job.
        schedules: `MaintenanceSchedule` entries for these jobs.
        resource_key: key of the `LakehouseResource`.
        translator: maps tables to asset keys for the observations.
        prefix: prepended to job and op names (to add several maintenance sets).

    Raises:
        InvalidInput: malformed selectors, ref, settings, cron strings or schedule jobs (all
            checked here, at definition time, without I/O).
    """
    for selector in tables:
        TableSelector.parse(selector)
    if ref is not None:
        validate_ref_name(ref)
    translator = translator or LakehouseTranslator()
    settings = {
        "optimize": _settings("optimize", optimize),
        "expire": _settings("expire", expire),
        "vacuum": _settings("vacuum", vacuum),
        "rewrite_manifests": _settings("rewrite_manifests", rewrite_manifests),
        "remove_dangling_deletes": _settings("remove_dangling_deletes", None),
        "compute_table_stats": _settings("compute_table_stats", compute_table_stats),
        "rewrite_position_deletes": _settings("rewrite_position_deletes", rewrite_position_deletes),
    }
    job_kinds = dict(JOB_KINDS)
    if data_retention is not None:
        settings["data_retention"] = _settings("data_retention", data_retention)
        job_kinds[RETENTION_JOB] = ("data_retention",)
    # Items pass between steps through an IO manager of our own: a user's default io_manager
    # (dagster-iceberg's, say) need not handle plain dicts, and a filesystem one works across
    # processes for any executor.
    io_key = f"{prefix}lakehouse_items_io_manager"
    jobs = {
        f"{prefix}{name}": _build_job(
            f"{prefix}{name}", kinds, list(tables), ref, settings, resource_key, translator, io_key
        )
        for name, kinds in job_kinds.items()
    }
    if gc is not None:
        jobs[f"{prefix}{GC_JOB}"] = build_gc_job(
            f"{prefix}{GC_JOB}",
            settings=gc,
            resource_key=resource_key,
            translator=translator,
            tags={MAINTENANCE_TAG: "true"},
        )
    return dg.Definitions(
        jobs=list(jobs.values()),
        schedules=[_build_schedule(s, jobs, prefix) for s in schedules],
        resources={io_key: dg.FilesystemIOManager()},
    )


def _settings(kind: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    unknown = set(given or {}) - set(OPERATION_SETTINGS[kind])
    if unknown:
        raise InvalidInput(
            f"unknown {kind} setting(s): {', '.join(sorted(unknown))}",
            hint=f"{kind} settings are: {', '.join(OPERATION_SETTINGS[kind])}",
        )
    merged = {**default_settings(kind), **(given or {})}
    missing = [k for k, s in OPERATION_SETTINGS[kind].items() if s.required and merged[k] is None]
    if missing:
        example = ", ".join(f"{k!r}: …" for k in OPERATION_SETTINGS[kind])
        raise InvalidInput(
            f"{kind} needs {' and '.join(missing)}", hint=f"pass {kind}={{{example}}}"
        )
    for key, value in merged.items():
        # Run config types follow the defaults: numbers given for durations (seconds) and sizes
        # (bytes) are written as text the operations parse the same way.
        if isinstance(value, int | float) and not isinstance(value, bool) and key in _TEXT_KEYS:
            merged[key] = f"{value}s" if key in _DURATION_KEYS else str(int(value))
    build_operation(kind, merged)  # validates values now, not at 3 a.m.
    return merged


def _build_job(
    name: str,
    kinds: tuple[str, ...],
    tables: list[str],
    ref: str | None,
    settings: dict[str, dict[str, Any]],
    resource_key: str,
    translator: LakehouseTranslator,
    io_manager_key: str,
) -> dg.JobDefinition:
    select = build_select_op(
        f"{name}__select_tables",
        io_manager_key=io_manager_key,
        kinds=kinds,
        tables=tables,
        ref=ref,
        settings=settings,
        resource_key=resource_key,
        fan_out_groups=kinds == ("optimize",),
    )
    steps = [
        build_table_op(
            f"{name}__{kind}",
            kind,
            resource_key=resource_key,
            translator=translator,
            io_manager_key=io_manager_key,
        )
        for kind in kinds
    ]
    collect = build_collect_op(f"{name}__summary", io_manager_key=io_manager_key)

    def _chain(item: Any) -> Any:
        for step in steps:
            item = step(item)
        return item

    @dg.job(
        name=name,
        tags={MAINTENANCE_TAG: "true"},
        description=f"Lakehouse {' → '.join(kinds)} per table; preview with dry_run: true.",
    )
    def _job() -> None:
        collect(select().map(_chain).collect())

    return _job


def _build_schedule(
    schedule: MaintenanceSchedule, jobs: dict[str, dg.JobDefinition], prefix: str
) -> dg.ScheduleDefinition:
    from dagster._utils.schedules import is_valid_cron_string

    job = jobs.get(f"{prefix}{schedule.job}")
    if job is None and schedule.job == RETENTION_JOB:
        raise InvalidInput(
            f"schedule for {RETENTION_JOB}, but data retention is not configured",
            hint="pass data_retention={'column': 'event_time', 'retention': '365d'} "
            "(YAML: data_retention: {column: event_time, retention: 365d})",
        )
    if job is None:
        raise InvalidInput(
            f"schedule for unknown job {schedule.job!r}",
            hint=f"jobs: {', '.join(JOB_KINDS)} (and {GC_JOB} when gc= is given, "
            f"{RETENTION_JOB} when data_retention= is)",
        )
    if not is_valid_cron_string(schedule.cron):
        raise InvalidInput(
            f"cron string {schedule.cron!r} is not valid",
            hint="five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *'",
        )
    if schedule.default_status not in _STATUSES:
        raise InvalidInput(
            f"default_status {schedule.default_status!r} is not valid", hint="RUNNING or STOPPED"
        )
    _check_timezone(schedule.timezone)
    run_config = None
    if schedule.run_config:
        config_op = GC_OP if schedule.job == GC_JOB else "select_tables"
        run_config = {"ops": {f"{job.name}__{config_op}": {"config": dict(schedule.run_config)}}}
    return dg.ScheduleDefinition(
        name=f"{job.name}_schedule",
        job=job,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        default_status=_STATUSES[schedule.default_status],
        run_config=run_config,
        description=schedule.description
        or f"{job.name} at '{schedule.cron}' ({schedule.timezone}): {job.description}",
    )


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidInput(
            f"timezone {name!r} is not known", hint="use an IANA name like UTC or Europe/Berlin"
        ) from e
