"""Nessie commit logs: a reference's log, a table's history on it, and its content at a head.

Example:
    >>> [s.snapshot_id for s in refs.table_history("raw.events", "dev")]  # doctest: +SKIP
"""

from __future__ import annotations

from phlo_lakehouse.errors import RefNotFound, SnapshotNotFound
from phlo_lakehouse.identifiers import TableIdentifier, parse_table_identifier
from phlo_lakehouse.nessie.connection import NessieConnection
from phlo_lakehouse.nessie.model import (
    NessieCommit,
    TableState,
    check_hash,
    main_first,
    snapshot_of,
    to_commit,
)


class NessieHistory(NessieConnection):
    """Reads commit logs and table states (part of `NessieReferences`)."""

    def log(
        self, ref: str, *, hash: str | None = None, limit: int | None = None
    ) -> list[NessieCommit]:
        """Commits of ``ref`` (from ``hash`` when given), newest first, at most ``limit``.

        Example:
            >>> refs.log("main", limit=1)[0].message                     # doctest: +SKIP
            'Update ICEBERG_TABLE raw.events'
        """
        check_hash(hash)
        self.get(ref)
        entries = self._call(
            lambda: list(self.client.get_log(ref, hash_on_ref=hash, max_records=limit)),
            missing_ref=ref,
        )
        return [to_commit(e) for e in entries]

    def table_history(
        self,
        table: str | TableIdentifier,
        ref: str = "main",
        *,
        hash: str | None = None,
        limit: int | None = None,
    ) -> list[TableState]:
        """The commits of ``ref`` that changed ``table``, newest first, with its content after
        each (Nessie filters the log server-side).

        Example:
            >>> [s.snapshot_id for s in refs.table_history("raw.events", "dev")]  # doctest: +SKIP
            [734…, 512…]
        """
        check_hash(hash)
        key = str(parse_table_identifier(table))
        head = self.get(ref)
        query = f"operations.exists(op, op.key == '{key}')"
        entries = self._call(
            lambda: list(
                self.client.get_log(
                    ref, hash_on_ref=hash, max_records=limit, fetch_all=True, filter=query
                )
            ),
            missing_ref=ref,
        )
        states: list[TableState] = []
        newer_parent = hash or head.hash or ""
        for entry in entries:
            for op in entry.operations or ():
                if op.key.to_path_string() != key:
                    continue
                content = getattr(op, "content", None)
                states.append(
                    TableState(
                        table=key,
                        commit=to_commit(entry),
                        metadata_location=getattr(content, "metadata_location", None),
                        snapshot_id=snapshot_of(content),
                        latest_hash=newer_parent,
                    )
                )
            newer_parent = entry.parent_commit_hash or ""
        return states

    def table_content(
        self, table: str | TableIdentifier, ref: str
    ) -> tuple[str, int | None] | None:
        """(metadata location, snapshot id) of ``table`` at the head of ``ref``; None if absent.

        Raises:
            RefNotFound: ``ref`` does not exist.
        """
        from pynessie.error import NessieNotFoundException
        from pynessie.model import ContentKey

        self.get(ref)
        key = ContentKey.from_path_string(str(parse_table_identifier(table)))
        try:
            content = self._call(self.client.get_content, ref, key)
        except RefNotFound as e:
            if isinstance(e.__cause__, NessieNotFoundException):
                return None
            raise
        location = getattr(content, "metadata_location", None)
        return (location, snapshot_of(content)) if location else None

    def find_table_state(
        self, table: str | TableIdentifier, snapshot_id: int, refs: list[str] | None = None
    ) -> tuple[str, TableState]:
        """The newest state of ``table`` with snapshot ``snapshot_id`` on the first of ``refs``
        (default: every reference, ``main`` first) whose history has it.

        Raises:
            SnapshotNotFound: no history of those references has that snapshot.
        """
        names = refs if refs is not None else main_first(r.name for r in self.list())
        for name in names:
            try:
                history = self.table_history(table, name)
            except RefNotFound:
                if len(names) == 1:
                    raise
                continue  # deleted since it was listed
            for state in history:
                if state.snapshot_id == snapshot_id:
                    return name, state
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise SnapshotNotFound(
            f"no commit of {shown or 'any reference'} gives table {table} snapshot {snapshot_id}",
            hint="list the table's snapshots with SnapshotManager.list_snapshots(table, ref)",
        )
