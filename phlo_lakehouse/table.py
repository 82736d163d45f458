"""`LakehouseTable`: a loaded Iceberg table pinned to the ref it was asked for.

On Nessie, the ref is the catalog-wide reference the table was loaded from, and the table's own
``main`` is read. Elsewhere the ref is an Iceberg table ref (branch or tag) in the table's metadata.

Example:
    >>> t = lakehouse.get_table("raw.events", ref="dev")   # doctest: +SKIP
    >>> t.to_arrow().num_rows                               # doctest: +SKIP
    42
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.identifiers import TableIdentifier

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import DataScan, Table
    from pyiceberg.table.snapshots import Snapshot

MAIN = "main"


@dataclass(frozen=True)
class LakehouseTable:
    """An Iceberg table and the ref whose state it stands for.

    Attributes:
        identifier: the table's namespace and name.
        ref: the ref asked for (Nessie reference, or Iceberg table branch/tag).
        table: the PyIceberg table as loaded.
        nessie: True when ``ref`` is a Nessie reference (the table ref is then ``main``).
    """

    identifier: TableIdentifier
    ref: str
    table: Table
    nessie: bool = False

    @property
    def table_ref(self) -> str:
        """The Iceberg ref inside the table's metadata that this handle reads and writes."""
        return MAIN if self.nessie else self.ref

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot at the head of the ref (None for a table with no commit yet)."""
        if self.table_ref == MAIN:
            return self.table.current_snapshot()
        return self.table.snapshot_by_name(self.table_ref)

    @property
    def snapshot_id(self) -> int | None:
        """The id of `snapshot`, or None."""
        snap = self.snapshot
        return snap.snapshot_id if snap is not None else None

    @property
    def ref_kind(self) -> str:
        """ "branch" or "tag" for the table ref (Nessie handles always read the table's main)."""
        ref = self.table.metadata.refs.get(self.table_ref)
        return str(ref.snapshot_ref_type) if ref is not None else "branch"

    def scan(self, **kwargs: Any) -> DataScan:
        """A scan of the ref's snapshot; keyword arguments go to ``Table.scan``."""
        if self.table_ref != MAIN:
            # Other refs are pinned to their head; main is read as the table reads itself, with
            # the current schema (a snapshot id would bring the schema it was written with).
            kwargs.setdefault("snapshot_id", self.snapshot_id)
        return self.table.scan(**kwargs)

    def to_arrow(self, **kwargs: Any) -> pa.Table:
        """The ref's rows as an Arrow table."""
        return self.scan(**kwargs).to_arrow()

    def refresh(self) -> LakehouseTable:
        """The same handle over freshly loaded metadata."""
        return LakehouseTable(self.identifier, self.ref, self.table.refresh(), self.nessie)

    def __str__(self) -> str:
        return f"{self.identifier}@{self.ref}"
