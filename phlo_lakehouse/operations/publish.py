"""`PublishOperation`: write-audit-publish's publish step as a catalog-level operation.

Run on the branch published to — ``lakehouse.run_catalog(PublishOperation("wap-1", tables),
"main")`` — it is access-checked with the ``publish`` permission on ``<catalog>@<onto>``,
traced, audited and previewed like every other operation, on any catalog:

- **Nessie**: the plan is Nessie's dry-run merge of the audit branch onto ``onto``; execution
  merges it (atomic over every table; a conflict merges nothing).
- **Iceberg table refs** (SQL, REST, Glue, Hive): the plan checks every table's ``onto`` can be
  fast-forwarded to its audit branch; execution moves each table's ``onto`` (one commit per
  table, each guarded by the head the plan read). A table whose ``onto`` moved since the audit
  branch was made refuses the whole publish before anything moves.

Example:
    >>> op = PublishOperation("wap-1", ["raw.events"])
    >>> op.name, op.permission, op.settings()
    ('wap_publish', 'publish', {'branch': 'wap-1', 'tables': ['raw.events']})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from phlo_lakehouse.errors import Conflict, InvalidInput
from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier, validate_ref_name
from phlo_lakehouse.operations.base import (
    CatalogOperation,
    CatalogTarget,
    OperationPlan,
    OperationResult,
)
from phlo_lakehouse.operations.nessie_refs import merge_document


class PublishOperation(CatalogOperation):
    """Publish audit branch ``branch`` onto the run's ref.

    Args:
        branch: the audit branch (Nessie reference, or each table's Iceberg branch).
        tables: the tables to publish (required on Iceberg table refs; ignored on Nessie,
            where the merge covers whatever the branch changed).
    """

    name: ClassVar[str] = "wap_publish"
    permission: ClassVar[str] = "publish"

    def __init__(self, branch: str, tables: Sequence[str | TableIdentifier] = ()) -> None:
        self.branch = validate_ref_name(branch)
        self.tables = [parse_table_identifier(t) for t in tables]

    def settings(self) -> dict[str, Any]:
        return {"branch": self.branch, "tables": [str(t) for t in self.tables]}

    def plan(self, target: CatalogTarget) -> OperationPlan:
        onto = self._onto(target)
        if target.lakehouse.is_nessie:
            preview = target.lakehouse.nessie.merge(self.branch, onto, dry_run=True)
            figures = {"tables_published": len(preview.keys), "conflicts": len(preview.conflicts)}
            return target.plan(self.name, figures, {"mode": "nessie", **merge_document(preview)})
        heads = {}
        for ident in self.tables:
            table, op = self._fast_forward(target, ident, onto)
            try:
                heads[str(ident)] = op.plan(table).figures["snapshot_id_to"]
            except InvalidInput as e:
                raise Conflict(
                    f"{onto} moved since the audit branch was created: {e.message}",
                    hint="nothing was published; re-run the write on a fresh branch",
                ) from e
        figures = {"tables_published": len(heads), "conflicts": 0}
        return target.plan(self.name, figures, {"mode": "table_refs", "snapshot_ids": heads})

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        onto = self._onto(target)
        if target.lakehouse.is_nessie:
            merged = target.lakehouse.nessie.merge(self.branch, onto)
            figures = {"tables_published": len(merged.keys), "conflicts": 0}
            details = {"mode": "nessie", **merge_document(merged)}
            return OperationResult.applied(
                plan, committed=merged.applied, figures=figures, details=details
            )
        heads = {}
        for ident in self.tables:
            table, op = self._fast_forward(target, ident, onto)
            heads[str(ident)] = op.execute(table, op.plan(table)).snapshot_id_after
        return OperationResult.applied(plan, details={"mode": "table_refs", "snapshot_ids": heads})

    def _onto(self, target: CatalogTarget) -> str:
        if target.ref is None:
            raise InvalidInput(
                "publishing needs the branch to publish to",
                hint="run it on that branch: lakehouse.run_catalog(op, 'main')",
            )
        if not target.lakehouse.is_nessie and not self.tables:
            raise InvalidInput(
                "publishing on Iceberg table refs needs the tables",
                hint="pass PublishOperation(branch, tables=[...])",
            )
        return target.ref

    def _fast_forward(self, target: CatalogTarget, ident: TableIdentifier, onto: str) -> Any:
        from phlo_lakehouse.operations.ref_ops import FastForwardOperation

        return target.lakehouse.get_table(ident, onto), FastForwardOperation(self.branch)
