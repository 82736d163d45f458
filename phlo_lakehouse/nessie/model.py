"""The values Nessie reads return: references, commits, table states, diffs and merges.

Example:
    >>> NessieRef("main", "BRANCH", None).kind
    'BRANCH'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from phlo_lakehouse.errors import InvalidInput


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


HASH_PATTERN = re.compile(r"^[0-9a-fA-F]{8,64}$")
TABLE_TYPES = ("ICEBERG_TABLE", "ICEBERG_VIEW")


def to_ref(ref: Any) -> NessieRef:
    kind = "TAG" if type(ref).__name__ == "Tag" else "BRANCH"
    return NessieRef(name=ref.name, kind=kind, hash=getattr(ref, "hash_", None))


def to_commit(entry: Any) -> NessieCommit:
    meta = entry.commit_meta
    return NessieCommit(
        hash=meta.hash_,
        parent_hash=entry.parent_commit_hash,
        message=meta.message or "",
        author=meta.author or None,
        commit_time=meta.commitTime,
    )


def check_hash(value: str | None) -> None:
    if value is not None and not HASH_PATTERN.match(value):
        raise InvalidInput(
            f"{value!r} is not a Nessie commit hash",
            hint="pass a hex commit hash from NessieReferences.log(ref)",
        )


def content_type(content: Any) -> str:
    return {"IcebergTable": "ICEBERG_TABLE", "IcebergView": "ICEBERG_VIEW"}.get(
        type(content).__name__, type(content).__name__.upper()
    )


def snapshot_of(content: Any) -> int | None:
    """The content's snapshot id; None for a table without snapshots (Nessie stores -1)."""
    snapshot_id = getattr(content, "snapshot_id", None)
    return snapshot_id if snapshot_id is not None and snapshot_id >= 0 else None


def key_text(key: Any) -> str:
    return ".".join(key.get("elements", [])) if isinstance(key, dict) else str(key)


def main_first(names: Any) -> list[str]:
    return sorted(names, key=lambda n: (n != "main", n))
