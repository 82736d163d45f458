"""Op builders for lakehouse maintenance: select tables at run time, run one operation per table
(or per file group), collect the results.

Everything a run needs travels in run config of the selection op — table selectors, ref,
``dry_run`` and each operation's settings — and from there in the item each mapped op receives,
so a run launched from the UI can preview first and one switch controls the whole run.
"""

import hashlib
import re
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.observations import (
    Outcome,
    describe,
    figure_metadata,
    operation_metadata,
)
from phlo_lakehouse.dagster.resources import PRINCIPAL_TAG, LakehouseResource
from phlo_lakehouse.dagster.run_config import selection_schema
from phlo_lakehouse.dagster.run_config_terms import in_run_config_terms
from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.operations.base import OperationResult, TableOperation

#: Run tag a dry run adds to itself, so the runs list tells previews from real runs.
DRY_RUN_TAG = "phlo/dry-run"


def build_operation(
    kind: str, settings: dict[str, Any], files: list[str] | None = None
) -> TableOperation:
    """The `TableOperation` of ``kind`` with run-config ``settings`` (validates them; no I/O)."""
    from phlo_lakehouse.operations import operation_for

    values = {k: v for k, v in settings.items() if v is not None and v != []}
    if kind == "optimize":
        values["files"] = files
    return operation_for(kind, **values)


def mapping_key(table: str, extra: str = "") -> str:
    """A Dagster mapping key for ``table`` (readable, collision-free)."""
    readable = re.sub(r"[^A-Za-z0-9_]", "_", table)[:60]
    digest = hashlib.sha1(f"{table}|{extra}".encode()).hexdigest()[:8]
    return f"{readable}_{digest}"


def build_select_op(
    name: str,
    *,
    io_manager_key: str,
    kinds: tuple[str, ...],
    tables: list[str],
    ref: str | None,
    settings: dict[str, dict[str, Any]],
    resource_key: str,
    fan_out_groups: bool = False,
) -> dg.OpDefinition:
    """An op that resolves table selectors at run time and emits one item per table (or per
    optimize file group when ``fan_out_groups`` and ``optimize.partial_progress`` are set)."""
    schema = selection_schema(kinds, tables=tables, ref=ref, settings=settings)

    @dg.op(
        name=name,
        config_schema=schema,
        out=dg.DynamicOut(dict, io_manager_key=io_manager_key),
        required_resource_keys={resource_key},
        description="Resolve the table selection at run time and fan out one item per table.",
    )
    @in_run_config_terms
    def _select(context: dg.OpExecutionContext):
        lakehouse: LakehouseResource = getattr(context.resources, resource_key)
        config = context.op_config
        chosen = {kind: {**settings[kind], **config.get(kind, {})} for kind in kinds}
        engine_kind = config["engine"] or lakehouse.engine
        if config["dry_run"]:
            context.instance.add_run_tags(context.run_id, {DRY_RUN_TAG: "true"})
        engine = lakehouse.get_engine(engine_kind)
        for kind in kinds:  # bad settings fail here, before any table is touched
            operation = build_operation(kind, chosen[kind])
            if hasattr(engine, "validate"):  # options the engine cannot express
                engine.validate(operation)
        selectors = config["tables"] if config["tables"] is not None else list(tables)
        idents = lakehouse.resolve_tables(selectors, config["ref"])
        shown = ", ".join(map(str, idents[:20])) + (", …" if len(idents) > 20 else "")
        context.log.info(f"selected {len(idents)} table(s): {shown}")
        for ident in idents:
            item = {
                "table": str(ident),
                "ref": config["ref"],
                "dry_run": config["dry_run"],
                "engine": engine_kind,
                "settings": chosen,
                "results": [],
            }
            # Spark groups and commits files itself: one item per table on spark/auto.
            if fan_out_groups and chosen["optimize"]["partial_progress"] and engine_kind == "local":
                plan = build_operation("optimize", chosen["optimize"]).plan(
                    lakehouse.get_table(ident, config["ref"])
                )
                for group in plan.details["groups"]:
                    yield dg.DynamicOutput(
                        {**item, "files": group["files"]},
                        mapping_key=mapping_key(str(ident), str(group["group_id"])),
                    )
                continue
            yield dg.DynamicOutput(item, mapping_key=mapping_key(str(ident)))

    return _select


def build_table_op(
    name: str,
    kind: str,
    *,
    resource_key: str,
    translator: LakehouseTranslator,
    io_manager_key: str,
) -> dg.OpDefinition:
    """An op that runs operation ``kind`` on the item's table and passes the item on."""

    @dg.op(
        name=name,
        ins={"item": dg.In(dict)},
        out=dg.Out(dict, io_manager_key=io_manager_key),
        required_resource_keys={resource_key},
        description=f"Run {kind} on one table through the lakehouse executor.",
        tags={"dagster/kind/iceberg": ""},
    )
    @in_run_config_terms
    def _run(context: dg.OpExecutionContext, item: dict) -> dg.Output:
        lakehouse: LakehouseResource = getattr(context.resources, resource_key)
        table = item["table"]
        operation = build_operation(kind, item["settings"][kind], item.get("files"))
        report = maintain_table(
            context,
            lakehouse,
            operation,
            table,
            item["ref"],
            translator=translator,
            dry_run=item["dry_run"],
            engine=item.get("engine"),
        )
        result, outcome, metadata = report
        for warning in result.details.get("sink_failures", []):  # the step still succeeds
            context.log.warning(warning)
        output = {**item, "results": [*item.get("results", []), result.to_dict()]}
        return dg.Output(
            output,
            metadata={
                "table": dg.MetadataValue.text(table),
                "description": dg.MetadataValue.text(outcome.headline),
                **{k: v for k, v in metadata.items() if not k.startswith("dagster/")},
            },
        )

    return _run


def maintain_table(
    context: Any,
    lakehouse: LakehouseResource,
    operation: TableOperation,
    table: str,
    ref: str | None,
    *,
    translator: LakehouseTranslator,
    dry_run: bool = False,
    engine: str | None = None,
) -> tuple[OperationResult, Outcome, dict[str, dg.MetadataValue]]:
    """Run ``operation`` on ``table`` through the executor and report it: a log line and, unless
    a dry run, an `AssetObservation` on the table's asset. Returns the result, its `Outcome` and
    the typed metadata (for the step's output)."""
    from phlo_lakehouse.metadata import MetadataCollector

    before = lakehouse.collect_stats(table, ref)
    result = lakehouse.run(
        operation,
        table,
        ref,
        dry_run=dry_run,
        principal=context.run.tags.get(PRINCIPAL_TAG),
        engine=engine,
    )
    handle = lakehouse.get_table(table, ref)
    after = MetadataCollector().collect(handle)
    outcome = describe(result)
    context.log.info(f"{table}: {outcome.headline}")
    metadata = operation_metadata(
        result,
        outcome,
        before,
        after,
        table_name=f"{lakehouse.get_lakehouse().settings.name}.{table}",
        schema=handle.table.schema(),
    )
    if not dry_run:  # a preview is not the table's state: it stays on the step's output
        context.log_event(
            dg.AssetObservation(
                asset_key=translator.asset_key_for(table),
                description=outcome.headline,
                metadata=metadata,
            )
        )
    return result, outcome, metadata


def build_collect_op(name: str, *, io_manager_key: str) -> dg.OpDefinition:
    """An op that gathers every item's results into one run summary."""

    @dg.op(name=name, ins={"items": dg.In(list)}, out=dg.Out(dict, io_manager_key=io_manager_key))
    def _collect(context: dg.OpExecutionContext, items: list) -> dg.Output:
        results = [r for item in items for r in item["results"]]
        tables = sorted({item["table"] for item in items})
        committed = sum(1 for r in results if r["committed"])
        summary = {
            "tables": tables,
            "operations": len(results),
            "committed": committed,
            "results": results,
        }
        figures = {"tables": len(tables), "operations": len(results), "committed": committed}
        return dg.Output(summary, metadata=figure_metadata("", figures))

    return _collect
