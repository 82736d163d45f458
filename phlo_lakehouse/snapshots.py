"""`SnapshotManager`: list and read a table's snapshots, travel in time, and manage branches
and tags — every change a `TableOperation` run through ``lakehouse.run`` (access checks, dry
run, conflict retries, audit).

Refs follow the catalog: on Nessie they are catalog-wide Nessie references (a rollback assigns
the branch to an older commit; see `phlo_lakehouse.operations.snapshot_ops`), elsewhere Iceberg
table refs in the table's metadata. On Nessie, a table's metadata holds only its current
snapshot, so the history comes from Nessie's commit log: `list_snapshots` reads one metadata
file per state, and parents are the previous state's snapshot on that reference.

Maintenance on Nessie: `expire_snapshots` with ``delete_files=True`` refuses (other references
and older commits may still need the files); ``delete_files=False`` is safe. File deletion is
Nessie GC's job.

Time-travel reads return the rows with the schema the snapshot was written with (old column
names), as Iceberg engines do.

Example:
    >>> snapshots = SnapshotManager(lakehouse)                              # doctest: +SKIP
    >>> first = snapshots.list_snapshots("raw.events")[-1].snapshot_id      # doctest: +SKIP
    >>> snapshots.create_tag("raw.events", "v1", snapshot_id=first)        # doctest: +SKIP
    >>> snapshots.read("raw.events", tag="v1").num_rows                     # doctest: +SKIP
    500
    >>> snapshots.rollback_to_snapshot("raw.events", first, dry_run=True).figures  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput, RefNotFound, SnapshotNotFound
from phlo_lakehouse.identifiers import TableIdentifier

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.nessie import NessieReferences, TableState
    from phlo_lakehouse.operations.base import OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

TableName = str | TableIdentifier
Duration = str | int | timedelta | None
_LIST_HINT = "list snapshots with SnapshotManager.list_snapshots(table, ref)"


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


class SnapshotManager:
    """Snapshots, refs and time travel for the tables of one lakehouse.

    Args:
        lakehouse: the `IcebergLakehouse` whose tables are managed.
        run: the runner for operations (default ``lakehouse.run``); the Dagster resource passes
            its own so metrics are pushed.

    Example:
        >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
        >>> manager = SnapshotManager(IcebergLakehouse(CatalogSettings.embedded("/tmp/doc")))
        >>> manager.list_snapshots("demo.events")                   # doctest: +SKIP
    """

    def __init__(
        self, lakehouse: IcebergLakehouse, *, run: Callable[..., OperationResult] | None = None
    ) -> None:
        self.lakehouse = lakehouse
        self._run = run or lakehouse.run

    # -- reads -----------------------------------------------------------------------------

    def list_snapshots(self, table: TableName, ref: str | None = None) -> list[SnapshotInfo]:
        """Snapshots, newest first: every snapshot of the table when ``ref`` is None, else the
        history of ``ref`` (Nessie: always the reference's history, default ``main``).

        Example:
            >>> [s.operation for s in manager.list_snapshots("raw.events", "dev")]  # doctest: +SKIP
            ['append', 'append']
        """
        handle = self.lakehouse.get_table(table, ref)
        if handle.nessie:
            return self._nessie_history(handle)
        from pyiceberg.table.snapshots import ancestors_of

        metadata = handle.table.metadata
        if ref is None:
            snapshots = sorted(metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True)
        else:
            snapshots = list(ancestors_of(handle.snapshot, metadata))
        by_snapshot: dict[int, list[str]] = {}
        for name, snapshot_ref in sorted(metadata.refs.items()):
            by_snapshot.setdefault(snapshot_ref.snapshot_id, []).append(name)
        return [_info(s, tuple(by_snapshot.get(s.snapshot_id, ()))) for s in snapshots]

    def get_snapshot(
        self, table: TableName, snapshot_id: int, ref: str | None = None
    ) -> SnapshotInfo:
        """One snapshot (on Nessie: from ``ref``'s history, else any reference's).

        Raises:
            SnapshotNotFound: no such snapshot.
        """
        handle = self.lakehouse.get_table(table, ref)
        if not handle.nessie:
            snapshot = require_snapshot(handle.table, snapshot_id)
            names = sorted(
                n for n, r in handle.table.metadata.refs.items() if r.snapshot_id == snapshot_id
            )
            return _info(snapshot, tuple(names))
        for info in self._nessie_history(handle):
            if info.snapshot_id == snapshot_id:
                return info
        _, state = self.lakehouse.nessie.find_table_state(handle.identifier, snapshot_id)
        snapshot = _current(table_at(handle, state.metadata_location))
        return _info(snapshot, (), None, state.commit.hash, state.metadata_location)

    def read(
        self,
        table: TableName,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | int | str | None = None,
        tag: str | None = None,
        ref: str | None = None,
        **scan: Any,
    ) -> pa.Table:
        """Rows of the table at a snapshot, at a time, or at a tag (one of them; none: ``ref``'s
        head), as Arrow. Extra keyword arguments (``row_filter``, ``selected_fields``,
        ``limit``) go to the scan.

        Raises:
            InvalidInput: more than one of ``snapshot_id``, ``as_of`` and ``tag``.
            SnapshotNotFound, RefNotFound: nothing at that point.

        Example:
            >>> manager.read("raw.events", as_of="2026-01-31T00:00Z").num_rows   # doctest: +SKIP
        """
        if sum(x is not None for x in (snapshot_id, as_of, tag)) > 1:
            raise InvalidInput(
                "read takes at most one of snapshot_id, as_of and tag",
                hint="time travel to one point",
            )
        handle = self.lakehouse.get_table(table, tag or ref)
        if snapshot_id is None and as_of is None:
            if handle.table_ref == "main":  # the head of main reads with the current schema
                return handle.table.scan(**scan).to_arrow()
            return handle.to_arrow(**scan)
        if handle.nessie:
            return self._nessie_read(handle, snapshot_id, as_of, scan)
        if snapshot_id is not None:
            require_snapshot(handle.table, snapshot_id)
            return handle.table.scan(snapshot_id=snapshot_id, **scan).to_arrow()
        millis = to_millis(as_of, name="as_of")  # type: ignore[arg-type]
        snapshot = _as_of(handle, millis)
        return handle.table.scan(snapshot_id=snapshot.snapshot_id, **scan).to_arrow()

    # -- changes: each a TableOperation through lakehouse.run ---------------------------------

    def expire_snapshots(
        self, table: TableName, ref: str | None = None, *, dry_run: bool = False, **kwargs: Any
    ) -> OperationResult:
        """Expire old snapshots (`ExpireSnapshotsOperation`; on Nessie pass
        ``delete_files=False``)."""
        from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation

        return self._run(ExpireSnapshotsOperation(**kwargs), table, ref, dry_run=dry_run)

    def rollback_to_snapshot(
        self,
        table: TableName,
        snapshot_id: int,
        *,
        ref: str | None = None,
        dry_run: bool = False,
        allow_other_tables: bool = False,
    ) -> OperationResult:
        """Move branch ``ref`` back to its ancestor ``snapshot_id`` (Nessie: to the newest commit
        with it; refuses if other tables would change unless ``allow_other_tables``)."""
        from phlo_lakehouse.operations.snapshot_ops import RollbackOperation

        op = RollbackOperation(
            snapshot_id, allow_other_tables=allow_other_tables, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def rollback_to_timestamp(
        self,
        table: TableName,
        timestamp: datetime | int | str,
        *,
        ref: str | None = None,
        dry_run: bool = False,
        allow_other_tables: bool = False,
    ) -> OperationResult:
        """Move branch ``ref`` back to its latest ancestor older than ``timestamp``."""
        from phlo_lakehouse.operations.snapshot_ops import RollbackOperation

        op = RollbackOperation(
            timestamp=timestamp, allow_other_tables=allow_other_tables, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def set_current_snapshot(
        self,
        table: TableName,
        snapshot_id: int,
        *,
        ref: str | None = None,
        dry_run: bool = False,
        allow_other_tables: bool = False,
    ) -> OperationResult:
        """Point branch ``ref`` at any snapshot of the table, ancestor or not."""
        from phlo_lakehouse.operations.snapshot_ops import SetCurrentSnapshotOperation

        op = SetCurrentSnapshotOperation(
            snapshot_id, allow_other_tables=allow_other_tables, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def create_tag(
        self,
        table: TableName,
        name: str,
        *,
        snapshot_id: int | None = None,
        ref: str | None = None,
        max_ref_age: Duration = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Tag ``snapshot_id`` (default: ``ref``'s head); ``max_ref_age`` like "30d".

        Example:
            >>> result = manager.create_tag("raw.events", "v1", max_ref_age="30d")  # doctest: +SKIP
        """
        from phlo_lakehouse.operations.ref_ops import CreateRefOperation

        op = CreateRefOperation(
            name, kind="tag", snapshot_id=snapshot_id, max_ref_age=max_ref_age, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def create_branch(
        self,
        table: TableName,
        name: str,
        *,
        snapshot_id: int | None = None,
        ref: str | None = None,
        max_ref_age: Duration = None,
        max_snapshot_age: Duration = None,
        min_snapshots_to_keep: int | None = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Branch at ``snapshot_id`` (default: ``ref``'s head) with optional retention
        ("7d", "P7D", seconds) that `ExpireSnapshotsOperation` honours."""
        from phlo_lakehouse.operations.ref_ops import CreateRefOperation

        op = CreateRefOperation(
            name,
            kind="branch",
            snapshot_id=snapshot_id,
            max_ref_age=max_ref_age,
            max_snapshot_age=max_snapshot_age,
            min_snapshots_to_keep=min_snapshots_to_keep,
            nessie=self._nessie,
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def remove_ref(
        self, table: TableName, name: str, *, ref: str | None = None, dry_run: bool = False
    ) -> OperationResult:
        """Remove branch or tag ``name`` (on Nessie: the catalog-wide reference). The table is
        resolved on ``ref`` (default: ``main``; on Nessie, ``name`` itself)."""
        from phlo_lakehouse.operations.ref_ops import RemoveRefOperation

        op = RemoveRefOperation(name, nessie=self._nessie)
        where = ref or (name if self.lakehouse.is_nessie else None)
        return self._run(op, table, where, dry_run=dry_run)

    def fast_forward(
        self, table: TableName, branch: str, to: str, *, dry_run: bool = False
    ) -> OperationResult:
        """Move ``branch`` to the head of ``to`` (its head must be an ancestor of it)."""
        from phlo_lakehouse.operations.snapshot_ops import FastForwardOperation

        op = FastForwardOperation(to, nessie=self._nessie)
        return self._run(op, table, branch, dry_run=dry_run)

    def cherry_pick(
        self,
        table: TableName,
        snapshot_id: int,
        *,
        onto: str = "main",
        source_ref: str | None = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Re-apply append snapshot ``snapshot_id`` on branch ``onto`` as a new snapshot."""
        from phlo_lakehouse.operations.cherry_pick import CherryPickOperation

        op = CherryPickOperation(snapshot_id, source_ref=source_ref, nessie=self._nessie)
        return self._run(op, table, onto, dry_run=dry_run)

    def run(
        self, op: TableOperation, table: TableName, ref: str | None = None, **kw: Any
    ) -> OperationResult:
        """Run any operation through the same runner."""
        return self._run(op, table, ref, **kw)

    # -- Nessie history ------------------------------------------------------------------------

    @property
    def _nessie(self) -> Any:
        return self.lakehouse.nessie if self.lakehouse.is_nessie else None

    def _nessie_history(self, handle: LakehouseTable) -> list[SnapshotInfo]:
        refs = self.lakehouse.nessie
        states = [
            s
            for s in refs.table_history(handle.identifier, handle.ref)
            if s.metadata_location and s.snapshot_id is not None
        ]
        heads = self._nessie_heads(handle.identifier)
        with ThreadPoolExecutor(max_workers=8) as pool:
            tables = pool.map(lambda s: table_at(handle, s.metadata_location), states)
            snapshots = [_current(t) for t in tables]
        infos = []
        for i, (state, snapshot) in enumerate(zip(states, snapshots, strict=True)):
            parent = states[i + 1].snapshot_id if i + 1 < len(states) else None
            names = tuple(sorted(n for n, sid in heads.items() if sid == state.snapshot_id))
            infos.append(_info(snapshot, names, parent, state.commit.hash, state.metadata_location))
        return infos

    def _nessie_heads(self, identifier: TableIdentifier) -> dict[str, int]:
        refs = self.lakehouse.nessie
        names = [r.name for r in refs.list()]

        def content(name: str) -> tuple[str, int | None] | None:
            try:
                return refs.table_content(identifier, name)
            except RefNotFound:  # deleted since it was listed
                return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            contents = list(pool.map(content, names))
        return {n: c[1] for n, c in zip(names, contents, strict=True) if c and c[1] is not None}

    def _nessie_read(
        self,
        handle: LakehouseTable,
        snapshot_id: int | None,
        as_of: datetime | int | str | None,
        scan: dict[str, Any],
    ) -> pa.Table:
        refs = self.lakehouse.nessie
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
                    f"{handle} had no snapshot at or before {_iso(millis)}",
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
            f"table {'.'.join(table.name())} has no snapshot {snapshot_id}", hint=_LIST_HINT
        )
    return snapshot


def table_at(table: LakehouseTable, metadata_location: str | None) -> Table:
    """A read-only table over an older metadata file of ``table`` (Nessie history).

    Raises:
        SnapshotNotFound: the state has no metadata (a drop) or the file is gone (Nessie GC).
    """
    from pyiceberg.table import StaticTable

    if not metadata_location:
        raise SnapshotNotFound(f"{table} had no metadata in that commit", hint=_LIST_HINT)
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


def _as_of(handle: LakehouseTable, millis: int) -> Snapshot:
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
            f"{handle} has no snapshot at or before {_iso(millis)}", hint="read a later time"
        )
    return found


def _current(table: Any) -> Snapshot:
    snapshot = table.current_snapshot()
    if snapshot is None:
        raise SnapshotNotFound("that table state has no snapshot", hint="pick another state")
    return snapshot


def _info(
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


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat()
