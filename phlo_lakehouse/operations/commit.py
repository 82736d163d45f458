"""Committing table metadata changes: the one place that touches PyIceberg's commit internals.

PyIceberg 0.12 offers no ``replace`` snapshot producer, no manifest rewrite and an expiry that is
not safe to re-run; our operations therefore build their own updates and commit them here with
explicit optimistic-concurrency requirements. A `CommitFailedException` (the table moved) becomes
`Conflict`, which the operations answer by re-validating on a refreshed table.

The PyIceberg internals it needs are reached through the boundary,
`phlo_lakehouse._upstream.pyiceberg`, which checks the pinned version when imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import Conflict

if TYPE_CHECKING:
    from pyiceberg.table import Table, Transaction
    from pyiceberg.table.update import TableRequirement, TableUpdate


def commit_updates(
    table: Table,
    updates: Sequence[TableUpdate],
    requirements: Sequence[TableRequirement],
    *,
    what: str | None = None,
) -> Table:
    """Commit ``updates`` if ``requirements`` hold; the table object is updated in place.

    An ``AssertTableUUID`` requirement is always added. The outcome follows the commit-outcome
    rule (`phlo_lakehouse.outcome`): a lost answer is resolved by re-reading the table
    and, if the commit is not there, sending it again; the commit's requirements make it apply at
    most once. Old metadata.json files are pruned per ``write.metadata.delete-after-commit.*``,
    as on every PyIceberg commit.

    On a format v3 table the commit is refused first (`InvalidInput`) unless our v3 metadata
    writer keeps every field of the table's current metadata.

    Raises:
        InvalidInput: a v3 table whose metadata our writer would not reproduce; nothing sent.
        Conflict: the commit was refused — a requirement failed (the table or a ref moved since
            it was read): provably not committed, so what it wrote may be deleted.
        CommitStateUnknown: the outcome could not be determined: delete nothing.
    """
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table.update import AssertTableUUID

    from phlo_lakehouse._upstream.pyiceberg import do_commit
    from phlo_lakehouse.operations.commit_effects import landed
    from phlo_lakehouse.outcome import commit_resolving, status_check_policy
    from phlo_lakehouse.retry import count_commit_attempt

    if table.metadata.format_version >= 3:
        from phlo_lakehouse._upstream.metadata_v3 import require_faithful_write

        require_faithful_write(table)  # before anything is sent: our writer must keep it all
    reqs = (*requirements, AssertTableUUID(uuid=table.metadata.table_uuid))
    base_location = table.metadata_location
    label = what or f"commit to {'.'.join(table.name())}"

    def send() -> Table:
        do_commit(table, updates, reqs)
        return table

    def committed() -> Table:
        table.refresh()
        return table

    count_commit_attempt()  # a re-send of the same commit is not another attempt
    try:
        return commit_resolving(
            send,
            lambda: landed(table, updates, base_location),
            what=label,
            policy=status_check_policy(table.properties),
            on_committed=committed,
        )
    except CommitFailedException as e:
        raise Conflict(
            f"the table changed concurrently: {str(e).splitlines()[0][:200]}",
            hint="re-run; the operation re-validates against the refreshed table",
        ) from e


def commit_transaction(transaction: Transaction, *, what: str | None = None) -> Table:
    """Commit what a PyIceberg ``Transaction`` (opened with ``table.transaction()``, its
    builders closed but the transaction itself not) staged, through `commit_updates` — so
    PyIceberg's builders (schema updates, fast appends) follow the same commit-outcome rule.

    Example:
        >>> tx = table.transaction()                                   # doctest: +SKIP
        >>> with tx.update_schema() as update:                          # doctest: +SKIP
        ...     update.add_column("country", StringType())
        >>> commit_transaction(tx)                                      # doctest: +SKIP
    """
    from phlo_lakehouse._upstream.pyiceberg import staged_changes

    table, updates, requirements = staged_changes(transaction)
    if not updates:
        return table
    return commit_updates(table, updates, requirements, what=what)


def refs_unchanged_requirements(table: Table, refs: dict[str, int]) -> list[TableRequirement]:
    """Requirements that fail the commit unless the table's refs are exactly ``refs``.

    ``AssertRefSnapshotId`` guards refs we know of; a ref created concurrently (say a tag on a
    snapshot being expired) needs more, because removing a snapshot also drops every ref pointing
    at it. Catalogs that validate requirements client-side (SQL, Glue, Hive) get
    `AssertRefsUnchanged`, which checks the whole set. REST catalogs validate on the server, which
    knows only the standard requirement types; callers there must check afterwards with
    `refs_dropped_by_last_commit`.
    """
    from pyiceberg.table.update import AssertRefSnapshotId

    requirements: list[TableRequirement] = [
        AssertRefSnapshotId(ref=name, snapshot_id=snapshot_id) for name, snapshot_id in refs.items()
    ]
    if not _validates_on_server(table):
        requirements.append(_assert_refs_unchanged(refs))
    return requirements


def refs_dropped_by_last_commit(table: Table, expected: dict[str, int]) -> dict[str, int]:
    """Refs the metadata just before the table's last commit had, beyond ``expected``, that the
    last commit removed (a concurrent ref lost to a rebased commit). Empty when none."""
    from pyiceberg.serializers import FromInputFile

    log = table.metadata.metadata_log
    if not log:
        return {}
    before = FromInputFile.table_metadata(table.io.new_input(log[-1].metadata_file))
    now = set(table.metadata.refs)
    return {
        name: ref.snapshot_id
        for name, ref in before.refs.items()
        if name not in expected and name not in now
    }


def next_row_id_requirements(table: Table) -> list[TableRequirement]:
    """On format v3, a requirement that fails the commit unless the table's ``next-row-id`` is
    still the one read (a snapshot's ``first-row-id`` is taken from it; a commit on another
    branch moves it without moving ours). None on older formats. v3 commits happen only on
    catalogs validating client-side (`format_support`)."""
    next_row_id = getattr(table.metadata, "next_row_id", None)
    if table.metadata.format_version < 3 or _validates_on_server(table):
        return []
    return [_assert_next_row_id(next_row_id)]


def _assert_next_row_id(next_row_id: int | None) -> TableRequirement:
    from typing import Literal

    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table.update import ValidatableTableRequirement

    class AssertNextRowId(ValidatableTableRequirement):
        """The table's ``next-row-id`` must be ``next_row_id``."""

        type: Literal["assert-next-row-id"] = "assert-next-row-id"
        next_row_id: int | None

        def validate(self, base_metadata: object) -> None:  # type: ignore[override]
            current = getattr(base_metadata, "next_row_id", None)
            if current != self.next_row_id:
                raise CommitFailedException(
                    f"the table's next-row-id moved from {self.next_row_id} to {current}"
                )

    return AssertNextRowId(next_row_id=next_row_id)  # type: ignore[return-value]


def _validates_on_server(table: Table) -> bool:
    from pyiceberg.catalog.rest import RestCatalog

    return isinstance(table.catalog, RestCatalog)


def _assert_refs_unchanged(refs: dict[str, int]) -> TableRequirement:
    from typing import Literal

    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table.update import ValidatableTableRequirement

    class AssertRefsUnchanged(ValidatableTableRequirement):
        """The table's refs (names and snapshot ids) must be exactly ``refs``."""

        type: Literal["assert-refs-unchanged"] = "assert-refs-unchanged"
        refs: dict[str, int]

        # PyIceberg's requirements all shadow pydantic's deprecated classmethod of this name.
        def validate(self, base_metadata: object) -> None:  # type: ignore[override]
            current = {n: r.snapshot_id for n, r in getattr(base_metadata, "refs", {}).items()}
            if current != self.refs:
                added = sorted(set(current) - set(self.refs))
                raise CommitFailedException(
                    f"the table's refs changed (new: {', '.join(added) or 'none'})"
                )

    # TableRequirement is PyIceberg's closed union of its own requirement classes (for parsing);
    # catalogs validating client-side accept any ValidatableTableRequirement.
    return AssertRefsUnchanged(refs=refs)  # type: ignore[return-value]
