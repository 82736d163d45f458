"""Catalog-wide Nessie references (branches and tags) through pynessie and Nessie's API v1.

Besides creating and deleting references, `NessieReferences` reads the commit log (`log`,
`table_history`), compares references with Nessie's diff API (`diff`), moves references
(`assign`) and merges branches (`merge`, with a dry run that reports conflicting tables).

**Maintenance and Nessie GC.** A Nessie table's metadata holds only its current snapshot: older
states live in Nessie's commit log, and other branches and tags may point at files the current
metadata no longer lists. Deleting files from one reference's point of view is therefore unsafe,
so ``ExpireSnapshotsOperation(delete_files=True)`` and ``VacuumOperation`` refuse on Nessie;
expiry with ``delete_files=False`` only rewrites metadata and is safe. Removing unreferenced files
is Nessie GC's job: `phlo_lakehouse.gc.NessieGCOperation` (``phlo-lakehouse gc``) marks live
contents over every reference and its commit log within the cutoff, then sweeps the rest.

pynessie is imported only when a Nessie client is first used, so ``import phlo_lakehouse``
stays light. pynessie 0.67 does not expose the merge flags ``isDryRun`` /
``isReturnConflictAsResult`` (the v1 JSON names, not ``dryRun``: Nessie ignores unknown
fields and would really merge), so `merge` posts the request through pynessie's endpoint helper.

Example:
    >>> refs = NessieReferences("http://127.0.0.1:19120")          # doctest: +SKIP
    >>> refs.create_branch("dev", from_ref="main").kind             # doctest: +SKIP
    'BRANCH'
    >>> [c.table for c in refs.diff("main", "dev")]                 # doctest: +SKIP
    ['raw.events']
    >>> refs.merge("dev", onto="main", dry_run=True).conflicts      # doctest: +SKIP
    ()
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import (
    CatalogUnavailable,
    Conflict,
    InvalidInput,
    MergeConflict,
    RefNotFound,
    SnapshotNotFound,
)
from phlo_lakehouse.identifiers import (
    TableIdentifier,
    parse_table_identifier,
    validate_ref_name,
)

if TYPE_CHECKING:
    from pynessie.client import NessieClient


@dataclass(frozen=True)
class NessieRef:
    """A Nessie reference: its name, kind (BRANCH or TAG) and the commit hash it points at."""

    name: str
    kind: str
    hash: str | None


@dataclass(frozen=True)
class NessieCommit:
    """One commit of a Nessie reference's log."""

    hash: str
    parent_hash: str | None
    message: str
    author: str | None
    commit_time: datetime | None


@dataclass(frozen=True)
class TableState:
    """A table's content as one commit left it (``metadata_location`` is None when the commit
    dropped the table).

    Attributes:
        table: the table identifier, e.g. "raw.events".
        commit: the commit that changed the table.
        metadata_location / snapshot_id: the table's content after that commit.
        latest_hash: the newest commit of the ref at which the table still had this content
            (the parent of the table's next change, or the ref head) — where to point a branch
            to restore this state while keeping later changes of other tables to a minimum.
    """

    table: str
    commit: NessieCommit
    metadata_location: str | None
    snapshot_id: int | None
    latest_hash: str


@dataclass(frozen=True)
class TableChange:
    """How a table differs between two references (from Nessie's diff API).

    Attributes:
        table: the table identifier.
        change: "added" (only on the target side), "removed" (only on the source side) or
            "modified" (content differs).
        content_type: "ICEBERG_TABLE" or "ICEBERG_VIEW".
    """

    table: str
    change: str
    content_type: str
    metadata_location_before: str | None
    metadata_location_after: str | None
    snapshot_id_before: int | None
    snapshot_id_after: int | None


#: The hash of a Nessie branch with no commit yet (Nessie's "no ancestor").
NO_ANCESTOR_HASH = "2e1cfa82b035c26cbbbdae632cea070514eb8b773f616aaeaf668e2f0be8f10d"


@dataclass(frozen=True)
class MergeResult:
    """What a merge did, or (dry run) would do.

    Attributes:
        source / target: the merged reference and the branch merged onto.
        source_hash: the source commit that was (or would be) merged.
        target_hash_before / target_hash_after: the target head before and after (equal unless
            the merge was applied).
        common_ancestor: the commit both references share.
        keys: content keys (tables, namespaces) the merge touches.
        conflicts: keys changed on both sides since the common ancestor; a merge with
            conflicts is never applied.
        applied: True when the target branch moved.
        source_deleted: True when the source branch was deleted afterwards.
    """

    source: str
    target: str
    source_hash: str | None
    target_hash_before: str | None
    target_hash_after: str | None
    common_ancestor: str | None
    keys: tuple[str, ...]
    conflicts: tuple[str, ...]
    dry_run: bool
    applied: bool
    source_deleted: bool = False

    @property
    def ok(self) -> bool:
        """True when the merge has (or would have) no conflicts."""
        return not self.conflicts


_HASH = re.compile(r"^[0-9a-fA-F]{8,64}$")
_TABLE_TYPES = ("ICEBERG_TABLE", "ICEBERG_VIEW")


class NessieReferences:
    """Reads and changes Nessie references.

    Args:
        base_uri: Nessie server root, e.g. http://127.0.0.1:19120 (API v1 is used).

    Example:
        >>> NessieReferences("http://127.0.0.1:19120").api_uri
        'http://127.0.0.1:19120/api/v1'
    """

    def __init__(self, base_uri: str) -> None:
        self.api_uri = f"{base_uri.rstrip('/')}/api/v1"
        self._client: NessieClient | None = None

    @property
    def client(self) -> NessieClient:
        """The pynessie client, created on first use."""
        if self._client is None:
            import pynessie

            self._client = pynessie.init(
                config_dict={"endpoint": self.api_uri, "verify": True, "auth": {"type": "none"}}
            )
        return self._client

    def get(self, name: str) -> NessieRef:
        """The reference called ``name``.

        Raises:
            RefNotFound: no branch or tag has that name.
        """
        validate_ref_name(name)
        ref = self._call(self.client.get_reference, name, missing_ref=name)
        return _to_ref(ref)

    def list(self) -> list[NessieRef]:
        """Every branch and tag, sorted by name."""
        response = self._call(self.client.list_references)
        return sorted((_to_ref(r) for r in response.references), key=lambda r: r.name)

    def create_branch(
        self, name: str, from_ref: str = "main", *, hash: str | None = None
    ) -> NessieRef:
        """Create branch ``name`` at the head of ``from_ref`` (or at its commit ``hash``)."""
        return self._create("BRANCH", name, from_ref, hash)

    def create_tag(
        self, name: str, from_ref: str = "main", *, hash: str | None = None
    ) -> NessieRef:
        """Create tag ``name`` at the head of ``from_ref`` (or at its commit ``hash``)."""
        return self._create("TAG", name, from_ref, hash)

    def _create(self, kind: str, name: str, from_ref: str, hash: str | None) -> NessieRef:
        validate_ref_name(name)
        _check_hash(hash)
        source = self.get(from_ref)
        target = hash or source.hash
        create = self.client.create_tag if kind == "TAG" else self.client.create_branch
        self._change(
            f"creating {kind.lower()} {name!r}",
            lambda: create(name, source.name, target),
            landed=lambda: self._points_at(name, target),
            missing_ref=from_ref,
        )
        return NessieRef(name, kind, target)

    def delete(self, name: str) -> None:
        """Delete branch or tag ``name`` (at its current hash)."""
        ref = self.get(name)
        delete = self.client.delete_tag if ref.kind == "TAG" else self.client.delete_branch
        self._change(
            f"deleting {name!r}",
            lambda: delete(ref.name, ref.hash),
            landed=lambda: self._points_at(name, None),
            missing_ref=name,
        )

    def assign(
        self,
        name: str,
        to_ref: str,
        *,
        hash: str | None = None,
        expected_hash: str | None = None,
    ) -> NessieRef:
        """Point branch or tag ``name`` at the head of ``to_ref`` (or at commit ``hash`` on it).

        Args:
            name: the branch or tag to move.
            to_ref: the reference whose head (or whose commit ``hash``) ``name`` moves to.
            hash: a commit reachable from ``to_ref``, e.g. one from `log`.
            expected_hash: where ``name`` must point now (default: its head as read here);
                a different head raises `Conflict`.

        Raises:
            RefNotFound: ``name`` or ``to_ref`` does not exist.
            InvalidInput: ``hash`` is not a commit hash.
            Conflict: ``name`` moved since ``expected_hash``.

        Example:
            >>> old = refs.log("dev", limit=2)[1].hash                   # doctest: +SKIP
            >>> refs.assign("dev", "dev", hash=old).hash == old           # doctest: +SKIP
            True
        """
        _check_hash(hash)
        _check_hash(expected_hash)
        ref = self.get(name)
        target = self.get(to_ref)
        to_hash = hash or target.hash
        assign = self.client.assign_tag if ref.kind == "TAG" else self.client.assign_branch
        self._change(
            f"assigning {name!r}",
            lambda: assign(ref.name, target.name, to_hash, expected_hash or ref.hash),
            landed=lambda: self._points_at(name, to_hash),
            missing_ref=name,
        )
        return NessieRef(ref.name, ref.kind, to_hash)

    def _change(
        self, what: str, send: Any, *, landed: Any, missing_ref: str | None = None
    ) -> Any:
        """Change a reference under the commit-outcome rule (`phlo_lakehouse.outcome`): a lost
        answer is settled by re-reading the reference and, if unchanged, sending the change
        again (the expected hash or the name's absence makes it apply at most once)."""
        from phlo_lakehouse.outcome import commit_resolving, status_check_policy

        return self._call(
            lambda: commit_resolving(
                send, landed, what=f"Nessie: {what}", policy=status_check_policy({})
            ),
            missing_ref=missing_ref,
        )

    def _points_at(self, name: str, commit_hash: str | None) -> bool:
        """Whether reference ``name`` points at ``commit_hash`` (None: does not exist); a fresh
        read, raising transient errors for the caller to retry."""
        from pynessie.error import NessieNotFoundException

        try:
            ref = self.client.get_reference(name)
        except NessieNotFoundException:
            return commit_hash is None
        return commit_hash is not None and getattr(ref, "hash_", None) == commit_hash

    def log(
        self, ref: str, *, hash: str | None = None, limit: int | None = None
    ) -> list[NessieCommit]:
        """Commits of ``ref`` (from ``hash`` when given), newest first, at most ``limit``.

        Example:
            >>> refs.log("main", limit=1)[0].message                     # doctest: +SKIP
            'Update ICEBERG_TABLE raw.events'
        """
        _check_hash(hash)
        self.get(ref)
        entries = self._call(
            lambda: list(self.client.get_log(ref, hash_on_ref=hash, max_records=limit)),
            missing_ref=ref,
        )
        return [_to_commit(e) for e in entries]

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
        _check_hash(hash)
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
                        commit=_to_commit(entry),
                        metadata_location=getattr(content, "metadata_location", None),
                        snapshot_id=_snapshot_of(content),
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
        return (location, _snapshot_of(content)) if location else None

    def find_table_state(
        self, table: str | TableIdentifier, snapshot_id: int, refs: list[str] | None = None
    ) -> tuple[str, TableState]:
        """The newest state of ``table`` with snapshot ``snapshot_id`` on the first of ``refs``
        (default: every reference, ``main`` first) whose history has it.

        Raises:
            SnapshotNotFound: no history of those references has that snapshot.
        """
        names = refs if refs is not None else _main_first(r.name for r in self.list())
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

    def diff(
        self,
        from_ref: str,
        to_ref: str,
        *,
        from_hash: str | None = None,
        to_hash: str | None = None,
    ) -> list[TableChange]:
        """Tables (and views) whose content differs between two references, sorted by name.

        "added" means present on ``to_ref`` only, "removed" on ``from_ref`` only.

        Example:
            >>> refs.diff("main", "dev")[0].change                       # doctest: +SKIP
            'modified'
        """
        _check_hash(from_hash)
        _check_hash(to_hash)
        self.get(from_ref)
        self.get(to_ref)
        response = self._call(self.client.get_diff, from_ref, to_ref, from_hash, to_hash)
        changes = []
        for entry in response.diffs:
            before, after = entry.from_content, entry.to_content
            kind = _content_type(after if after is not None else before)
            if kind not in _TABLE_TYPES:
                continue  # namespaces
            change = "added" if before is None else "removed" if after is None else "modified"
            changes.append(
                TableChange(
                    table=entry.content_key.to_path_string(),
                    change=change,
                    content_type=kind,
                    metadata_location_before=getattr(before, "metadata_location", None),
                    metadata_location_after=getattr(after, "metadata_location", None),
                    snapshot_id_before=_snapshot_of(before),
                    snapshot_id_after=_snapshot_of(after),
                )
            )
        if getattr(response, "has_more", False):
            raise Conflict(
                f"the diff of {from_ref} and {to_ref} is longer than one page",
                hint="diff narrower references (or compare with Nessie's own tools)",
            )
        return sorted(changes, key=lambda c: c.table)

    def merge(
        self,
        from_ref: str,
        onto: str = "main",
        *,
        dry_run: bool = False,
        delete_source: bool = False,
        message: str | None = None,
    ) -> MergeResult:
        """Merge ``from_ref`` onto branch ``onto``; a dry run reports conflicts, changing nothing.

        Conflicts are tables changed on both sides since the common ancestor. A real merge with
        conflicts raises `Conflict` and leaves ``onto`` untouched (Nessie applies all or nothing).
        The source branch is kept unless ``delete_source``.

        Raises:
            RefNotFound: either reference does not exist.
            InvalidInput: ``onto`` is a tag, or the same reference as ``from_ref``.
            Conflict: (real merge) conflicting tables; nothing was merged.

        Example:
            >>> refs.merge("dev", onto="main", dry_run=True).conflicts   # doctest: +SKIP
            ('raw.events',)
        """
        from pynessie.client import _endpoints as endpoints

        source, target = self.get(from_ref), self.get(onto)
        if target.kind != "BRANCH" or source.name == target.name:
            raise InvalidInput(
                f"cannot merge {source.name!r} onto {target.name!r}",
                hint="merge a branch or tag onto a different branch",
            )
        if target.hash == NO_ANCESTOR_HASH:
            return self._merge_onto_empty(source, target, dry_run, delete_source)
        body: dict[str, Any] = {
            "fromRefName": source.name,
            "fromHash": source.hash,
            "isDryRun": bool(dry_run),
            "isReturnConflictAsResult": True,
        }
        if message:
            body["message"] = message
        client = self.client
        for attempt in (1, 2):
            try:
                response = self._call(
                    endpoints.merge,
                    client._base_url,  # noqa: SLF001 - pynessie 0.67 has no public dry-run merge
                    client._auth,  # noqa: SLF001
                    target.name,
                    body,
                    target.hash,
                    client._ssl_verify,  # noqa: SLF001
                    missing_ref=f"{source.name} or {target.name}",
                )
                break
            except RefNotFound:
                # Nessie answers "not found" when an expected hash is no longer on the ref: if
                # both refs still exist, one moved under us; read them again and retry once.
                source, target = self.get(from_ref), self.get(onto)
                if attempt == 2:
                    raise
                body["fromHash"] = source.hash
        details = response.get("details") or []
        keys = tuple(sorted(_key_text(d["key"]) for d in details))
        conflicts = tuple(
            sorted(_key_text(d["key"]) for d in details if d.get("conflictType", "NONE") != "NONE")
        )
        applied = bool(response.get("wasApplied")) and not dry_run
        if not dry_run and (conflicts or not response.get("wasSuccessful", True)):
            shown = ", ".join(conflicts) or "unknown keys"
            raise MergeConflict(
                f"merging {source.name} onto {target.name} conflicts on {shown}; nothing merged",
                hint="both sides changed these tables since their common ancestor; "
                "merge(dry_run=True) lists them — resolve on the source branch and merge again",
            )
        deleted = False
        if applied and delete_source and source.kind == "BRANCH":
            self.delete(source.name)
            deleted = True
        return MergeResult(
            source=source.name,
            target=target.name,
            source_hash=source.hash,
            target_hash_before=target.hash,
            target_hash_after=(response.get("resultantTargetHash") if applied else target.hash),
            common_ancestor=response.get("commonAncestor"),
            keys=keys,
            conflicts=conflicts,
            dry_run=bool(dry_run),
            applied=applied,
            source_deleted=deleted,
        )

    def _merge_onto_empty(
        self, source: NessieRef, target: NessieRef, dry_run: bool, delete_source: bool
    ) -> MergeResult:
        """Merging onto a branch with no commit: Nessie finds no common ancestor, but nothing
        can conflict either, so the merge is a fast-forward of the target to the source."""
        keys = tuple(c.table for c in self.diff(target.name, source.name))
        applied = False
        if not dry_run:
            self.assign(target.name, source.name, hash=source.hash, expected_hash=target.hash)
            applied = True
        deleted = False
        if applied and delete_source and source.kind == "BRANCH":
            self.delete(source.name)
            deleted = True
        return MergeResult(
            source=source.name,
            target=target.name,
            source_hash=source.hash,
            target_hash_before=target.hash,
            target_hash_after=source.hash if applied else target.hash,
            common_ancestor=NO_ANCESTOR_HASH,
            keys=keys,
            conflicts=(),
            dry_run=bool(dry_run),
            applied=applied,
            source_deleted=deleted,
        )

    def _call(self, fn: Any, *args: Any, missing_ref: str | None = None) -> Any:
        from pynessie.error import (
            NessieConflictException,
            NessieNotFoundException,
        )

        try:
            return fn(*args)
        except NessieNotFoundException as e:
            raise RefNotFound(
                f"Nessie reference {missing_ref or args[0]!r} does not exist",
                hint="list references with `phlo-lakehouse refs list` or create the branch first",
            ) from e
        except NessieConflictException as e:
            raise Conflict(
                f"Nessie refused the change: {str(e).splitlines()[0][:160]}",
                hint="the reference moved or already exists; re-read it and try again",
            ) from e
        except OSError as e:
            raise CatalogUnavailable(
                f"cannot reach Nessie at {self.api_uri}: {type(e).__name__}",
                hint="check that the Nessie server is running and NESSIE_HOST/NESSIE_PORT "
                "are right",
            ) from e


def _to_ref(ref: Any) -> NessieRef:
    kind = "TAG" if type(ref).__name__ == "Tag" else "BRANCH"
    return NessieRef(name=ref.name, kind=kind, hash=getattr(ref, "hash_", None))


def _to_commit(entry: Any) -> NessieCommit:
    meta = entry.commit_meta
    return NessieCommit(
        hash=meta.hash_,
        parent_hash=entry.parent_commit_hash,
        message=meta.message or "",
        author=meta.author or None,
        commit_time=meta.commitTime,
    )


def _check_hash(value: str | None) -> None:
    if value is not None and not _HASH.match(value):
        raise InvalidInput(
            f"{value!r} is not a Nessie commit hash",
            hint="pass a hex commit hash from NessieReferences.log(ref)",
        )


def _content_type(content: Any) -> str:
    return {"IcebergTable": "ICEBERG_TABLE", "IcebergView": "ICEBERG_VIEW"}.get(
        type(content).__name__, type(content).__name__.upper()
    )


def _snapshot_of(content: Any) -> int | None:
    """The content's snapshot id; None for a table without snapshots (Nessie stores -1)."""
    snapshot_id = getattr(content, "snapshot_id", None)
    return snapshot_id if snapshot_id is not None and snapshot_id >= 0 else None


def _key_text(key: Any) -> str:
    return ".".join(key.get("elements", [])) if isinstance(key, dict) else str(key)


def _main_first(names: Any) -> list[str]:
    return sorted(names, key=lambda n: (n != "main", n))
