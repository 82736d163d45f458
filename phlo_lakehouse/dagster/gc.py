"""The ``lakehouse_gc`` job: Nessie garbage collection from Dagster (`NessieGCOperation`).

One op runs the GC over the whole Nessie catalog through the resource's executor (access check,
audit, metrics pushed when configured). Its run config carries ``dry_run`` and every GC setting
(``cutoffs``, ``ref_regex``, ``older_than``, ``force``, ``prefix_mismatch``, ``defer``), filled
in with the factory's values, so a run launched from the UI can preview first. A real run reports
an `AssetObservation` on the asset of every table it deleted files of (through the translator);
the step output carries the figures. `lakehouse_maintenance_definitions(gc=...)` adds the job
(and a ``MaintenanceSchedule("lakehouse_gc", ...)`` schedules it); the embedded default does so
when the catalog is Nessie.

Example:
    >>> job = build_gc_job("lakehouse_gc", settings={"cutoffs": ["P10D"]})
    >>> job.name
    'lakehouse_gc'
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.observations import describe, figure_metadata, sized
from phlo_lakehouse.dagster.ops import DRY_RUN_TAG
from phlo_lakehouse.dagster.resources import PRINCIPAL_TAG, LakehouseResource
from phlo_lakehouse.dagster.run_config_terms import in_run_config_terms
from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.units import format_size

#: The job's name (before the factory's prefix) and the tag maintenance runs share.
GC_JOB = "lakehouse_gc"
GC_OP = "gc"
DEFAULT_GC_SETTINGS: dict[str, Any] = {
    "cutoffs": [],
    "ref_regex": ".*",
    "older_than": "3d",
    "force": False,
    "prefix_mismatch": "error",
    "defer": None,
}
_DESCRIPTIONS = {
    "cutoffs": "NONE (default), a number of commits, a duration (P10D, 36h) or an ISO instant; "
    "per reference REGEX=POLICY, e.g. ['P10D', 'dev-.*=5'] (first match wins).",
    "ref_regex": "References to collect garbage for (whole names); the others keep their whole "
    "history.",
    "older_than": "Only files modified before the live set's creation minus this are deleted "
    "(a duration such as 3d or P3D; under 24h needs force).",
    "force": "Allow older_than under 24h (only when no writer is active).",
    "prefix_mismatch": "A listed file matching a live one by path only: error, ignore or delete.",
    "defer": "Write the candidates to this file instead of deleting them (review, then "
    "`phlo-lakehouse gc apply-deferred FILE`); null: delete.",
}


def gc_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The factory's GC settings over the defaults, validated (no I/O).

    Raises:
        InvalidInput: an unknown key or a bad value (named by its run-config key).
    """
    from phlo_lakehouse.gc.operation import NessieGCOperation

    given = dict(settings or {})
    unknown = sorted(set(given) - set(DEFAULT_GC_SETTINGS))
    if unknown:
        raise InvalidInput(
            f"unknown gc setting(s): {', '.join(unknown)}",
            hint=f"gc settings: {', '.join(DEFAULT_GC_SETTINGS)}",
        )
    merged = {**DEFAULT_GC_SETTINGS, **given}
    merged["cutoffs"] = list(merged["cutoffs"] or [])
    NessieGCOperation(**merged)
    return merged


def _schema(settings: Mapping[str, Any]) -> dict[str, dg.Field]:
    types: dict[str, Any] = {
        "cutoffs": [str],
        "ref_regex": str,
        "older_than": str,
        "force": bool,
        "prefix_mismatch": dg.Enum(
            "LakehouseGCPrefixMismatch", [dg.EnumValue(v) for v in ("error", "ignore", "delete")]
        ),
        "defer": dg.Noneable(str),
    }
    fields = {
        key: dg.Field(types[key], default_value=value, is_required=False,
                      description=_DESCRIPTIONS[key])
        for key, value in settings.items()
    }  # fmt: skip
    fields["dry_run"] = dg.Field(
        bool,
        default_value=False,
        is_required=False,
        description="Plan only: report what the GC would delete and delete nothing.",
    )
    return fields


def build_gc_job(
    name: str = GC_JOB,
    *,
    settings: Mapping[str, Any] | None = None,
    resource_key: str = "lakehouse",
    translator: LakehouseTranslator | None = None,
    tags: Mapping[str, str] | None = None,
) -> dg.JobDefinition:
    """The GC job: one op ``<name>__gc`` running `NessieGCOperation` with its run config.

    Raises:
        InvalidInput: bad settings (checked here, at definition time, without I/O).
    """
    defaults = gc_settings(settings)
    translator = translator or LakehouseTranslator()

    @dg.op(
        name=f"{name}__{GC_OP}",
        config_schema=_schema(defaults),
        required_resource_keys={resource_key},
        description="Nessie GC: delete the files no live commit of any reference needs.",
        tags={"dagster/kind/iceberg": "", "dagster/kind/nessie": ""},
    )
    @in_run_config_terms
    def _gc(context: dg.OpExecutionContext) -> dg.Output:
        from phlo_lakehouse.gc.operation import NessieGCOperation

        lakehouse: LakehouseResource = getattr(context.resources, resource_key)
        config = dict(context.op_config)
        dry_run = bool(config.pop("dry_run"))
        if dry_run:
            context.instance.add_run_tags(context.run_id, {DRY_RUN_TAG: "true"})
        try:
            operation = NessieGCOperation(**config)
        except InvalidInput as error:
            raise dg.Failure(description=f"run config of {name}: {error}") from error
        result = lakehouse.run_catalog(
            operation, None, dry_run=dry_run, principal=context.run.tags.get(PRINCIPAL_TAG)
        )
        outcome = describe(result)
        context.log.info(outcome.headline)
        if not dry_run:
            for entry in result.details.get("tables") or []:
                if entry.get("table") and entry["files"]:
                    context.log_event(_observation(entry, translator, result))
        return dg.Output(
            result.to_dict(),
            metadata={
                "description": dg.MetadataValue.text(outcome.headline),
                **figure_metadata("lakehouse/", outcome.figures),
            },
        )

    return _job(name, _gc, tags)


def _job(name: str, op: dg.OpDefinition, tags: Mapping[str, str] | None) -> dg.JobDefinition:
    @dg.job(
        name=name,
        description="Nessie garbage collection over every branch, tag and commit inside the "
        "cutoffs (dry_run in run config previews).",
        tags=dict(tags or {}),
    )
    def _graph() -> None:
        op()

    return _graph


def _observation(
    entry: Mapping[str, Any], translator: LakehouseTranslator, result: Any
) -> dg.AssetObservation:
    verb = "deferred" if result.details.get("deferred_file") else "deleted"
    headline = (
        f"nessie_gc: {verb} {entry['files']:,} file{'s' * (entry['files'] != 1)} "
        f"no live commit needs, {format_size(entry['bytes'])}"
    )
    return dg.AssetObservation(
        asset_key=translator.asset_key_for(entry["table"]),
        description=headline,
        metadata={
            f"lakehouse/files_{verb}": dg.MetadataValue.int(int(entry["files"])),
            **sized(f"lakehouse/{verb}_bytes", int(entry["bytes"])),
            "lakehouse/location": dg.MetadataValue.text(str(entry["location"])),
        },
    )
