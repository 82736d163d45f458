"""`SchemaManager`: evolve a table's schema (one validated commit through ``lakehouse.run``),
diff schema versions by field id, check compatibility like a schema registry
(`phlo_lakehouse.schema_diff` has the rules), and export.

Example:
    >>> schemas = SchemaManager(lakehouse)                                    # doctest: +SKIP
    >>> schemas.validate_evolution("raw.events", add_columns={"country": "string"},
    ...                            mode="FULL").compatible                   # doctest: +SKIP
    True
    >>> schemas.evolve_schema("raw.events", widen_types={"user_id": "long"})  # doctest: +SKIP
    >>> print(schemas.export_schema("raw.events", "sql", dialect="trino"))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput, NotFound
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.operations.schema_ops import EvolveSchemaOperation, SchemaChanges
from phlo_lakehouse.schema_diff import (
    MODES,
    BreakingChange,
    CompatibilityReport,
    FieldChange,
    SchemaDiff,
    check_compatibility,
    diff_schemas,
    normalize_mode,
)

if TYPE_CHECKING:
    from pyiceberg.schema import Schema

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.operations.base import OperationResult


class SchemaManager:
    """Schema evolution, history, compatibility and export for one lakehouse.

    Args:
        lakehouse: the `IcebergLakehouse` whose tables are managed.
        run: the runner for operations (default ``lakehouse.run``).

    Example:
        >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
        >>> manager = SchemaManager(IcebergLakehouse(CatalogSettings.embedded("/tmp/doc")))
        >>> manager.diff_schemas("raw.events").changes                      # doctest: +SKIP
    """

    def __init__(
        self, lakehouse: IcebergLakehouse, *, run: Callable[..., OperationResult] | None = None
    ) -> None:
        self.lakehouse = lakehouse
        self._run = run or lakehouse.run

    def evolve_schema(
        self,
        table: str | TableIdentifier,
        *,
        add_columns: Any = None,
        drop_columns: Sequence[str] = (),
        rename_columns: dict[str, str] | None = None,
        widen_types: dict[str, Any] | None = None,
        make_optional: Sequence[str] = (),
        ref: str | None = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Apply the changes in one validated schema commit (see `SchemaChanges.of`).

        Raises:
            ColumnNotFound, InvalidInput: before any commit.

        Example:
            >>> manager.evolve_schema("raw.events", add_columns={"country": "string"},
            ...                       rename_columns={"kind": "event_kind"})  # doctest: +SKIP
        """
        changes = SchemaChanges.of(
            add_columns, drop_columns, rename_columns, widen_types, make_optional
        )
        return self._run(EvolveSchemaOperation(changes), table, ref, dry_run=dry_run)

    def schemas(self, table: str | TableIdentifier, ref: str | None = None) -> list[Schema]:
        """Every schema version of the table, oldest first."""
        metadata = self.lakehouse.get_table(table, ref).table.metadata
        return sorted(metadata.schemas, key=lambda s: s.schema_id)

    def diff_schemas(
        self,
        table: str | TableIdentifier,
        from_schema_id: int | None = None,
        to_schema_id: int | None = None,
        *,
        ref: str | None = None,
    ) -> SchemaDiff:
        """Differences between two schema versions (default: the previous and the current).

        Raises:
            NotFound: an unknown schema id.
        """
        history = self.schemas(table, ref)
        current = self.lakehouse.get_table(table, ref).table.schema()
        to_schema = _by_id(history, to_schema_id, table) if to_schema_id is not None else current
        if from_schema_id is not None:
            from_schema = _by_id(history, from_schema_id, table)
        else:
            older = [s for s in history if s.schema_id < to_schema.schema_id]
            from_schema = older[-1] if older else to_schema
        return diff_schemas(from_schema, to_schema)

    def validate_evolution(
        self,
        table: str | TableIdentifier,
        new_schema: Schema | None = None,
        *,
        mode: str = "BACKWARD",
        ref: str | None = None,
        **changes: Any,
    ) -> CompatibilityReport:
        """Check a new schema — given, or what ``changes`` (as for `evolve_schema`) would
        produce — against the table's schema history under ``mode``. Commits nothing.

        Example:
            >>> manager.validate_evolution("raw.events", drop_columns=["kind"],
            ...                            mode="FORWARD").breaking[0].reason  # doctest: +SKIP
        """
        mode = normalize_mode(mode)
        handle = self.lakehouse.get_table(table, ref)
        if new_schema is None:
            new_schema = SchemaChanges.of(**changes).preview(handle.table)
        elif changes:
            raise InvalidInput(
                "pass a new schema or changes, not both", hint="validate one candidate at a time"
            )
        history = sorted(handle.table.metadata.schemas, key=lambda s: s.schema_id)
        return check_compatibility(new_schema, history, mode)

    def export_schema(
        self,
        table: str | TableIdentifier,
        format: str = "markdown",
        *,
        dialect: str = "spark",
        table_name: str | None = None,
        ref: str | None = None,
    ) -> str:
        """The table's schema as markdown, sql (Spark or Trino DDL), python, json or arrow.

        Raises:
            InvalidInput: an unknown format or dialect, or a type the dialect cannot express.
        """
        from phlo_lakehouse.schema_export import export_table_schema

        handle = self.lakehouse.get_table(table, ref)
        default_catalog = self.lakehouse.settings.name if dialect == "spark" else "iceberg"
        name = table_name or f"{default_catalog}.{handle.identifier}"
        return export_table_schema(handle.table, format, dialect=dialect, table_name=name)


def _by_id(history: Sequence[Schema], schema_id: int, table: Any) -> Schema:
    for schema in history:
        if schema.schema_id == schema_id:
            return schema
    raise NotFound(
        f"table {table} has no schema {schema_id}",
        hint=f"schema ids: {', '.join(str(s.schema_id) for s in history)}",
    )


__all__ = [
    "MODES",
    "BreakingChange",
    "CompatibilityReport",
    "FieldChange",
    "SchemaDiff",
    "SchemaManager",
    "check_compatibility",
    "diff_schemas",
    "normalize_mode",
]
