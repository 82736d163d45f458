"""`auto_maintenance_sensor`: request optimize/expire runs for tables that need them.

On each tick it reads the O(1) stats of the selected tables and requests a run of the optimize
job for tables with many small files or delete files, and of the expire job for tables with too
many snapshots. A table is not requested again within ``cooldown`` (tracked in the cursor), run
keys include the table's snapshot id so the same state is never requested twice, and at most
``max_runs_per_tick`` runs are requested per tick. A tick that runs out of ``tick_budget`` (or
of run requests) stops and records where: the next tick resumes with the following table.

Example:
    >>> maintenance = lakehouse_maintenance_definitions(tables=["raw.*"])     # doctest: +SKIP
    >>> sensor = auto_maintenance_sensor(maintenance=maintenance)  # doctest: +SKIP
"""

import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.identifiers import TableSelector
from phlo_lakehouse.metadata import SMALL_FILE_FRACTION
from phlo_lakehouse.summaries import collect_summaries
from phlo_lakehouse.units import parse_duration

# Dagster 1.13 warns that `owners` is beta whenever it copies a sensor to bind resources to its
# jobs (`SensorDefinition.with_attributes` passes `owners=[]` on, though nobody set owners): every
# sensor that targets our jobs would print it at load. Only that exact message is silenced.
warnings.filterwarnings(
    "ignore",
    message=r"Parameter `owners` of initializer `SensorDefinition\.__init__` is currently in beta",
    category=dg.BetaWarning,
)


@dataclass(frozen=True)
class MaintenanceTriggers:
    """When a table needs maintenance, judged from the snapshot summary alone.

    Attributes:
        min_files: optimize when at least this many data files…
        small_average: …and their average size is under 75% of the target (small files).
        max_delete_files: optimize when live delete files exceed this.
        max_snapshots: expire when snapshots exceed this.
    """

    min_files: int = 20
    small_average: bool = True
    max_delete_files: int = 10
    max_snapshots: int = 100


def auto_maintenance_sensor(
    *,
    maintenance: dg.Definitions,
    tables: Sequence[str] = ("*.*",),
    ref: str | None = None,
    triggers: MaintenanceTriggers | None = None,
    cooldown: str = "6h",
    max_runs_per_tick: int = 5,
    minimum_interval_seconds: int = 300,
    resource_key: str = "lakehouse",
    prefix: str = "",
    name: str = "lakehouse_auto_maintenance",
    default_status: str = "STOPPED",
    tick_budget: str = "40s",
) -> dg.SensorDefinition:
    """A sensor requesting ``{prefix}lakehouse_optimize`` / ``{prefix}lakehouse_expire`` runs.

    Args:
        maintenance: the Definitions returned by `lakehouse_maintenance_definitions`.
        tables: selectors resolved on each tick.
        triggers: thresholds.
        cooldown: minimum time between two requests for one table, e.g. "6h".
        max_runs_per_tick: cap on run requests per evaluation.
        tick_budget: a tick stops evaluating tables after this long (Dagster cancels a tick
            at 60 s) and the next tick resumes with the following table, so every table is
            seen in turn however many there are.
    """
    for selector in tables:
        TableSelector.parse(selector)
    cooldown_seconds = parse_duration(cooldown, name="cooldown").total_seconds()
    budget_seconds = parse_duration(tick_budget, name="tick_budget").total_seconds()
    if max_runs_per_tick < 1:
        raise InvalidInput("max_runs_per_tick must be ≥ 1", hint="e.g. 5")
    triggers = triggers or MaintenanceTriggers()
    jobs = {job.name: job for job in (maintenance.jobs or [])}
    optimize_job, expire_job = (
        jobs.get(f"{prefix}lakehouse_optimize"),
        jobs.get(f"{prefix}lakehouse_expire"),
    )
    if optimize_job is None or expire_job is None:
        raise InvalidInput(
            "the maintenance definitions lack the optimize/expire jobs",
            hint="pass the Definitions returned by lakehouse_maintenance_definitions (same prefix)",
        )

    @dg.sensor(
        name=name,
        jobs=[optimize_job, expire_job],
        minimum_interval_seconds=minimum_interval_seconds,
        required_resource_keys={resource_key},
        default_status=dg.DefaultSensorStatus[default_status],
        description=f"Requests {optimize_job.name} for tables with many small or delete files "
        f"and {expire_job.name} for tables with too many snapshots (O(1) stats; at most "
        f"{max_runs_per_tick} runs per tick; each table at most once per {cooldown}).",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        lakehouse: LakehouseResource = getattr(context.resources, resource_key)
        deadline = time.monotonic() + budget_seconds
        now = datetime.now(UTC).timestamp()
        requested, position = _load_cursor(context.cursor, now, cooldown_seconds)
        idents = _starting_after(lakehouse.resolve_tables(list(tables), ref), position)
        requests: list[dg.RunRequest] = []
        evaluated = 0
        due = [i for i in idents if now - requested.get(str(i), 0) >= cooldown_seconds]
        stats_of = collect_summaries(lakehouse.get_lakehouse(), due, ref)
        for ident in idents:
            if len(requests) >= max_runs_per_tick or (evaluated and time.monotonic() > deadline):
                break  # the next tick goes on from here (each tick sees at least one table)
            evaluated += 1
            position = table = str(ident)
            if now - requested.get(table, 0) < cooldown_seconds:
                continue
            stats = next(stats_of)  # the summaries of `due`, in the same order
            for job, reason in _needs(stats, triggers)[: max_runs_per_tick - len(requests)]:
                requests.append(_run_request(prefix, job, table, ref, stats.snapshot_id, reason))
                requested[table] = now
        if evaluated == len(idents):
            position = None  # every table was seen: the next tick starts from the first again
        cursor = json.dumps({"requested": requested, "position": position}, sort_keys=True)
        context.log.info(f"evaluated {evaluated} of {len(idents)} table(s)")
        if not requests:
            return dg.SensorResult(
                skip_reason=f"evaluated {evaluated} of {len(idents)} table(s): none past the "
                "maintenance thresholds (or all cooling down)",
                cursor=cursor,
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor


def _load_cursor(
    cursor: str | None, now: float, cooldown_seconds: float
) -> tuple[dict[str, float], str | None]:
    """(table -> time of its last request, still cooling down; table to resume after)."""
    state = json.loads(cursor) if cursor else {}
    if "requested" not in state:  # the cursor of earlier versions: {table: time}
        state = {"requested": state, "position": None}
    requested = {t: at for t, at in state["requested"].items() if now - at < cooldown_seconds}
    return requested, state.get("position")


def _starting_after(idents: list, position: str | None) -> list:
    """``idents`` in a round-robin from the one after ``position``."""
    if position is None:
        return idents
    names = [str(i) for i in idents]
    start = next((k for k, name in enumerate(names) if name > position), 0)
    return idents[start:] + idents[:start]


def _run_request(
    prefix: str, job: str, table: str, ref: str | None, snapshot_id: int | None, reason: str
) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=f"{prefix}{job}",
        run_key=f"{job}:{table}@{snapshot_id}",
        run_config={
            "ops": {f"{prefix}{job}__select_tables": {"config": {"tables": [table], "ref": ref}}}
        },
        tags={"phlo/lakehouse-table": table, "phlo/lakehouse-reason": reason},
    )


def _needs(stats, triggers: MaintenanceTriggers) -> list[tuple[str, str]]:
    needs = []
    files = stats.file_count or 0
    small = (
        triggers.small_average
        and stats.average_file_size is not None
        and stats.average_file_size < SMALL_FILE_FRACTION * stats.target_file_size
    )
    if files >= triggers.min_files and small:
        needs.append(("lakehouse_optimize", f"{files} small files"))
    elif (stats.delete_file_count or 0) > triggers.max_delete_files:
        needs.append(("lakehouse_optimize", f"{stats.delete_file_count} delete files"))
    if stats.snapshot_count > triggers.max_snapshots:
        needs.append(("lakehouse_expire", f"{stats.snapshot_count} snapshots"))
    return needs
