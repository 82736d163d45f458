"""`migration_definitions`: a Dagster job that migrates tables into the lakehouse, previewing first.

One job per call, ``<prefix>lakehouse_migrate_<kind>``:

- ``…__select_tables`` discovers the source tables matching the selection at run time (never
  at import) and fans out one item per table;
- ``…__migrate_table`` migrates one table through `CatalogMigration.migrate_table` (the same
  hooks as every operation: access check, tracing, audit), records an `AssetObservation` on the
  target table's asset key, and reports a failed table without failing the others;
- ``…__summary`` gathers the results into one run summary and fails the run when a table failed.

``dry_run`` is **true by default** in run config: a run launched from the UI shows what would be
created, registered or moved; set ``dry_run: false`` to migrate.

Sources come from resources: for ``kind="iceberg"`` a `LakehouseResource` (the catalog the
tables are in now), for ``hive`` and ``glue`` a `MigrationSourceResource`.

Example:
    >>> import dagster as dg
    >>> from phlo_lakehouse.dagster import LakehouseResource
    >>> from phlo_lakehouse.dagster.migration import (
    ...     MigrationSourceResource, migration_definitions)
    >>> defs = dg.Definitions.merge(
    ...     migration_definitions(kind="hive", tables=["sales.*"], mode="snapshot"),
    ...     dg.Definitions(resources={
    ...         "lakehouse": LakehouseResource(),
    ...         "migration_source": MigrationSourceResource(
    ...             kind="hive", metastore_uri="thrift://127.0.0.1:9083"),
    ...     }),
    ... )
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from phlo_lakehouse.dagster.ops import mapping_key
from phlo_lakehouse.dagster.resources import PRINCIPAL_TAG, LakehouseResource
from phlo_lakehouse.dagster.run_config_terms import in_run_config_terms
from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.errors import InvalidInput, LakehouseError
from phlo_lakehouse.identifiers import TableSelector
from phlo_lakehouse.migration.base import MODES, CatalogMigration
from phlo_lakehouse.migration.results import TableMigrationResult

KINDS = ("iceberg", "hive", "glue")
MIGRATION_TAG = "phlo/lakehouse-migration"


class MigrationSourceResource(dg.ConfigurableResource):
    """Where Hive or Glue source tables are described.

    Example:
        >>> MigrationSourceResource(kind="glue", properties={"glue.region": "eu-west-1"}).kind
        'glue'
    """

    kind: str = Field(description="hive or glue.")
    metastore_uri: str | None = Field(
        default=None, description="thrift://host:port of the Hive metastore (hive only)."
    )
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="glue.* properties of the Glue catalog (glue) and s3.* properties for "
        "reading the files (both kinds).",
    )


def build_migration(
    kind: str, source: Any, target: LakehouseResource, options: dict[str, Any]
) -> CatalogMigration:
    """The `CatalogMigration` of ``kind`` from the ``source`` resource into ``target``.

    Raises:
        InvalidInput: the source resource does not fit ``kind``.
    """
    lakehouse = target.get_lakehouse()
    shared = {
        "namespace": options.get("namespace"),
        "suffix": options.get("suffix") or "",
        "validate": options.get("validate", True),
        "sample_files": options.get("sample_files", 3),
    }
    if kind == "iceberg":
        from phlo_lakehouse.migration.iceberg import IcebergCatalogMigration

        if not isinstance(source, LakehouseResource):
            raise InvalidInput(
                "an iceberg migration needs a LakehouseResource as its source",
                hint="bind the source catalog's LakehouseResource to the source resource key",
            )
        return IcebergCatalogMigration(
            source.get_lakehouse(),
            lakehouse,
            drop_source=bool(options.get("drop_source")),
            **shared,
        )
    if not isinstance(source, MigrationSourceResource) or source.kind != kind:
        raise InvalidInput(
            f"a {kind} migration needs MigrationSourceResource(kind={kind!r}) as its source",
            hint="bind one to the source resource key",
        )
    mode = options.get("mode") or "snapshot"
    io = dict(source.properties) or None
    if kind == "hive":
        from phlo_lakehouse.migration.hive import HiveMigration

        if not source.metastore_uri:
            raise InvalidInput("a hive source needs metastore_uri", hint="thrift://host:9083")
        return HiveMigration(
            lakehouse, metastore_uri=source.metastore_uri, mode=mode, io_properties=io, **shared
        )
    from phlo_lakehouse.migration.glue import GlueMigration

    return GlueMigration(lakehouse, glue_properties=io, mode=mode, io_properties=io, **shared)


def migration_definitions(
    *,
    kind: str,
    tables: Sequence[str] = ("*.*",),
    mode: str | None = None,
    drop_source: bool = False,
    namespace: str | None = None,
    suffix: str = "",
    validate: bool = True,
    sample_files: int = 3,
    source_resource_key: str = "migration_source",
    resource_key: str = "lakehouse",
    translator: LakehouseTranslator | None = None,
    prefix: str = "",
) -> dg.Definitions:
    """A migration job (dry run by default in run config) for tables matching ``tables``.

    Args:
        kind: ``iceberg`` (catalog to catalog), ``hive`` or ``glue``.
        tables: source selectors resolved at run time, e.g. ``["sales.*"]``.
        mode: ``snapshot`` or ``migrate`` (hive, glue; default snapshot).
        drop_source: iceberg only: move the tables (required to migrate them).
        namespace / suffix: rename targets (see `CatalogMigration`).
        validate / sample_files: validation before each table is published.
        source_resource_key / resource_key: resource keys of the source and the target.
        translator: maps target tables to asset keys for the observations.
        prefix: prepended to the job and op names.

    Raises:
        InvalidInput: unknown kind or mode, malformed selectors (checked here, without I/O).
    """
    if kind not in KINDS:
        raise InvalidInput(
            f"unknown migration kind {kind!r}", hint=f"use one of {', '.join(KINDS)}"
        )
    if mode is not None and (kind == "iceberg" or mode not in MODES):
        raise InvalidInput(
            f"mode {mode!r} does not apply to {kind} migrations",
            hint="hive and glue take snapshot or migrate; iceberg moves with drop_source=True",
        )
    for selector in tables:
        TableSelector.parse(selector)
    defaults = {
        "tables": list(tables),
        "dry_run": True,
        "mode": mode or "snapshot",
        "drop_source": drop_source,
        "namespace": namespace,
        "suffix": suffix,
        "validate": validate,
        "sample_files": sample_files,
    }
    name = f"{prefix}lakehouse_migrate_{kind}"
    keys = {source_resource_key, resource_key}
    # Items travel through an IO manager of our own (as the maintenance jobs' do): the user's
    # default io_manager need not handle plain dicts, and a filesystem one suits any executor.
    io_key = f"{prefix}lakehouse_migration_io_manager"
    select = _select_op(name, kind, defaults, source_resource_key, resource_key, keys, io_key)
    migrate = _migrate_op(
        name,
        kind,
        source_resource_key,
        resource_key,
        keys,
        translator or LakehouseTranslator(),
        io_key,
    )
    summary = _summary_op(name, io_key)

    @dg.job(
        name=name,
        tags={MIGRATION_TAG: kind},
        description=f"Migrate {kind} tables into the lakehouse; dry run unless dry_run: false.",
    )
    def _job() -> None:
        summary(select().map(migrate).collect())

    return dg.Definitions(jobs=[_job], resources={io_key: dg.FilesystemIOManager()})


def _select_op(
    name: str,
    kind: str,
    defaults: dict[str, Any],
    source_key: str,
    target_key: str,
    keys: set[str],
    io_key: str,
) -> dg.OpDefinition:
    schema = {
        "tables": dg.Field([str], default_value=defaults["tables"], is_required=False),
        "dry_run": dg.Field(bool, default_value=True, is_required=False),
        "mode": dg.Field(str, default_value=defaults["mode"], is_required=False),
        "drop_source": dg.Field(bool, default_value=defaults["drop_source"], is_required=False),
        "namespace": dg.Field(
            dg.Noneable(str), default_value=defaults["namespace"], is_required=False
        ),
        "suffix": dg.Field(str, default_value=defaults["suffix"], is_required=False),
        "validate": dg.Field(bool, default_value=defaults["validate"], is_required=False),
        "sample_files": dg.Field(int, default_value=defaults["sample_files"], is_required=False),
    }

    @dg.op(
        name=f"{name}__select_tables",
        config_schema=schema,
        out=dg.DynamicOut(dict, io_manager_key=io_key),
        required_resource_keys=keys,
        description="Discover the source tables at run time; one item per table.",
    )
    @in_run_config_terms
    def _select(context: dg.OpExecutionContext):
        options = dict(context.op_config)
        migration = build_migration(
            kind,
            getattr(context.resources, source_key),
            getattr(context.resources, target_key),
            options,
        )
        sources = migration.discover_tables(options["tables"])
        mode = "dry run" if options["dry_run"] else "migration"
        context.log.info(f"{mode} of {len(sources)} table(s): {', '.join(map(str, sources))}")
        for source in sources:
            yield dg.DynamicOutput(
                {"source": str(source), "options": options}, mapping_key=mapping_key(str(source))
            )

    return _select


def _migrate_op(
    name: str,
    kind: str,
    source_key: str,
    target_key: str,
    keys: set[str],
    translator: LakehouseTranslator,
    io_key: str,
) -> dg.OpDefinition:
    @dg.op(
        name=f"{name}__migrate_table",
        ins={"item": dg.In(dict)},
        out=dg.Out(dict, io_manager_key=io_key),
        required_resource_keys=keys,
        description="Migrate one table (through the executor's hooks) or preview it.",
        tags={"kind": "iceberg"},
    )
    @in_run_config_terms
    def _migrate(context: dg.OpExecutionContext, item: dict) -> dg.Output:
        options = item["options"]
        target: LakehouseResource = getattr(context.resources, target_key)
        migration = build_migration(kind, getattr(context.resources, source_key), target, options)
        migration.principal = context.run.tags.get(PRINCIPAL_TAG)
        try:
            result = migration.migrate_table(item["source"], dry_run=options["dry_run"])
        except LakehouseError as error:
            target_name = str(migration.target_identifier(item["source"]))
            result = TableMigrationResult.failed(item["source"], target_name, error)
            context.log.error(result.summary())
        else:
            context.log.info(result.summary())
            for step in result.steps:
                context.log.info(f"  {step}")
        if result.status == "migrated":
            context.log_event(
                dg.AssetObservation(
                    asset_key=translator.asset_key_for(result.target),
                    metadata={
                        "lakehouse/operation": "migrate",
                        "lakehouse/source": f"{kind}:{result.source}",
                        "lakehouse/action": result.action or "",
                        **{f"lakehouse/{k}": v for k, v in result.figures.items() if v is not None},
                    },
                )
            )
        output = result.to_dict()
        return dg.Output(
            output,
            metadata={
                "source": result.source,
                "target": result.target,
                "status": result.status,
                **{k: v for k, v in result.figures.items() if v is not None},
            },
        )

    return _migrate


def _summary_op(name: str, io_key: str) -> dg.OpDefinition:
    @dg.op(
        name=f"{name}__summary",
        ins={"results": dg.In(list)},
        out=dg.Out(dict, io_manager_key=io_key),
    )
    @in_run_config_terms
    def _summary(context: dg.OpExecutionContext, results: list) -> dg.Output:
        ordered = sorted(results, key=lambda r: r["source"])
        counts = {
            status: sum(1 for r in ordered if r["status"] == status)
            for status in ("planned", "migrated", "skipped", "failed")
        }
        summary = {"tables": len(ordered), **counts, "results": ordered}
        failed = [r for r in ordered if r["status"] == "failed"]
        if failed:
            raise dg.Failure(
                description=f"{len(failed)} of {len(ordered)} table(s) failed: "
                + "; ".join(f"{r['source']}: {r['message']}" for r in failed),
                metadata={"failed": [r["source"] for r in failed], **counts},
            )
        return dg.Output(summary, metadata={"tables": len(ordered), **counts})

    return _summary
