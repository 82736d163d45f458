"""Finding a table's snapshots and past states: by id, by time, and on Nessie in the commit
log (a Nessie table's metadata holds only its current snapshot).

`SnapshotManager` and the snapshot operations (rollback, set-current, refs, cherry-pick) share
these lookups, so they live below both.

Example:
    >>> to_millis("2026-01-01T00:00:00+00:00")
    1767225600000
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput, RefNotFound, SnapshotNotFound

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from phlo_lakehouse.identifiers import TableIdentifier
    from phlo_lakehouse.nessie import NessieReferences, TableState
    from phlo_lakehouse.table import LakehouseTable

LIST_HINT = "list snapshots with SnapshotManager.list_snapshots(table, ref)"


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot of a table.

    Attributes:
        snapshot_id / parent_id: the snapshot and its parent (on Nessie: the table's previous
            state on that reference, since Nessie metadata drops parents).
        timestamp: when it was committed (UTC).
        operation: append, overwrite, delete or replace.
        summary: the snapshot summary (added/total records, files, sizes …).
        refs: branches and tags whose head it is (Nessie: references whose head has it).
        schema_id: the schema it was written with.
        commit_hash / metadata_location: (Nessie) the commit that made it and its metadata.
    """

    snapshot_id: int
    parent_id: int | None
    timestamp: datetime
    operation: str | None
    summary: Mapping[str, str] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    schema_id: int | None = None
    commit_hash: str | None = None
    metadata_location: str | None = None

    @property
    def timestamp_ms(self) -> int:
        """`timestamp` in epoch milliseconds."""
        return int(self.timestamp.timestamp() * 1000)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "snapshot_id": self.snapshot_id,
            "parent_id": self.parent_id,
            "timestamp": self.timestamp.isoformat(),
            "operation": self.operation,
            "summary": dict(self.summary),
            "refs": list(self.refs),
            "schema_id": self.schema_id,
            "commit_hash": self.commit_hash,
            "metadata_location": self.metadata_location,
        }


def nessie_history(refs: NessieReferences, handle: LakehouseTable) -> list[SnapshotInfo]:
    """The snapshots of ``handle`` on its Nessie reference, newest first, from the commit log
    (one metadata file read per state; parents are the previous state's snapshot)."""
    states = [
        s
        for s in refs.table_history(handle.identifier, handle.ref)
        if s.metadata_location and s.snapshot_id is not None
    ]
    heads = nessie_heads(refs, handle.identifier)
    with ThreadPoolExecutor(max_workers=8) as pool:
        tables = pool.map(lambda s: table_at(handle, s.metadata_location), states)
        snapshots = [current_snapshot(t) for t in tables]
    infos = []
    for i, (state, snapshot) in enumerate(zip(states, snapshots, strict=True)):
        parent = states[i + 1].snapshot_id if i + 1 < len(states) else None
        names = tuple(sorted(n for n, sid in heads.items() if sid == state.snapshot_id))
        infos.append(
            snapshot_info(snapshot, names, parent, state.commit.hash, state.metadata_location)
        )
    return infos


def nessie_heads(refs: NessieReferences, identifier: TableIdentifier) -> dict[str, int]:
    """The table's snapshot at the head of every Nessie reference that has it."""
    names = [r.name for r in refs.list()]

    def content(name: str) -> tuple[str, int | None] | None:
        try:
            return refs.table_content(identifier, name)
        except RefNotFound:  # deleted since it was listed
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        contents = list(pool.map(content, names))
    return {n: c[1] for n, c in zip(names, contents, strict=True) if c and c[1] is not None}


def nessie_read(
    refs: NessieReferences,
    handle: LakehouseTable,
    snapshot_id: int | None,
    as_of: datetime | int | str | None,
    scan: dict[str, Any],
) -> pa.Table:
    """Rows of ``handle`` at a snapshot id or a time, found in Nessie's history."""
    if snapshot_id is not None:
        if snapshot_id == handle.snapshot_id:
            return handle.to_arrow(**scan)
        try:
            _, state = refs.find_table_state(handle.identifier, snapshot_id, [handle.ref])
        except SnapshotNotFound:
            _, state = refs.find_table_state(handle.identifier, snapshot_id)
    else:
        millis = to_millis(as_of, name="as_of")  # type: ignore[arg-type]
        found = state_as_of(handle, refs, millis)
        if found is None:
            raise SnapshotNotFound(
                f"{handle} had no snapshot at or before {iso_time(millis)}",
                hint="read a later time",
            )
        state = found
    return table_at(handle, state.metadata_location).scan(**scan).to_arrow()


def to_millis(value: datetime | int | str, *, name: str = "timestamp") -> int:
    """Epoch milliseconds of a datetime (naive = UTC), ISO-8601 text or an int of milliseconds.

    Example:
        >>> to_millis("2026-01-01T00:00:00+00:00")
        1767225600000
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as e:
            raise InvalidInput(
                f"{name}={value!r} is not a timestamp", hint="use ISO-8601, e.g. 2026-01-31T12:00Z"
            ) from e
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidInput(
        f"{name}={value!r} is not a timestamp", hint="pass a datetime, ISO-8601 text or epoch ms"
    )


def require_snapshot(table: Table, snapshot_id: int | None) -> Snapshot:
    """The snapshot, or `SnapshotNotFound` with a hint."""
    snapshot = table.metadata.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    if snapshot is None:
        raise SnapshotNotFound(
            f"table {'.'.join(table.name())} has no snapshot {snapshot_id}", hint=LIST_HINT
        )
    return snapshot


def table_at(table: LakehouseTable, metadata_location: str | None) -> Table:
    """A read-only table over an older metadata file of ``table`` (Nessie history).

    Raises:
        SnapshotNotFound: the state has no metadata (a drop) or the file is gone (Nessie GC).
    """
    from pyiceberg.table import StaticTable

    if not metadata_location:
        raise SnapshotNotFound(f"{table} had no metadata in that commit", hint=LIST_HINT)
    try:
        return StaticTable.from_metadata(metadata_location, dict(table.table.io.properties))
    except FileNotFoundError as e:
        raise SnapshotNotFound(
            f"metadata {metadata_location} of {table.identifier} no longer exists",
            hint="Nessie GC removed it; pick a newer state",
        ) from e


def state_as_of(
    table: LakehouseTable,
    refs: NessieReferences,
    millis: int,
    head_hash: str | None = None,
    *,
    inclusive: bool = True,
) -> TableState | None:
    """The newest state of ``table`` on its Nessie ref whose snapshot was written at (or, not
    ``inclusive``, before) ``millis`` — snapshot timestamps, as on Iceberg refs. A commit time
    that qualifies implies the snapshot does (it is written first), so metadata is read only
    for states committed after ``millis``."""
    for state in refs.table_history(table.identifier, table.ref, hash=head_hash):
        if state.snapshot_id is None:
            continue
        committed = state.commit.commit_time
        written = to_millis(committed) if committed is not None else None
        if written is None or not (written <= millis if inclusive else written < millis):
            snapshot = table_at(table, state.metadata_location).current_snapshot()
            written = snapshot.timestamp_ms if snapshot is not None else None
        if written is not None and (written <= millis if inclusive else written < millis):
            return state
    return None


def snapshot_as_of(handle: LakehouseTable, millis: int) -> Snapshot:
    """The snapshot current at ``millis``: main's snapshot log, a branch's ancestry."""
    from pyiceberg.table.snapshots import ancestors_of

    if handle.table_ref == "main":
        found = handle.table.snapshot_as_of_timestamp(millis)
    else:
        found = next(
            (
                s
                for s in ancestors_of(handle.snapshot, handle.table.metadata)
                if s.timestamp_ms <= millis
            ),
            None,
        )
    if found is None:
        raise SnapshotNotFound(
            f"{handle} has no snapshot at or before {iso_time(millis)}", hint="read a later time"
        )
    return found


def current_snapshot(table: Any) -> Snapshot:
    snapshot = table.current_snapshot()
    if snapshot is None:
        raise SnapshotNotFound("that table state has no snapshot", hint="pick another state")
    return snapshot


def snapshot_info(
    snapshot: Snapshot,
    refs: tuple[str, ...],
    parent: int | None = None,
    commit_hash: str | None = None,
    metadata_location: str | None = None,
) -> SnapshotInfo:
    summary = snapshot.summary
    return SnapshotInfo(
        snapshot_id=snapshot.snapshot_id,
        parent_id=snapshot.parent_snapshot_id if commit_hash is None else parent,
        timestamp=datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=UTC),
        operation=summary.operation.value if summary is not None else None,
        summary=dict(summary.additional_properties) if summary is not None else {},
        refs=refs,
        schema_id=snapshot.schema_id,
        commit_hash=commit_hash,
        metadata_location=metadata_location,
    )


def iso_time(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat()
