"""Which snapshots and refs a table's retention keeps, as Iceberg's ``RemoveSnapshots`` decides:
per-ref ``max-ref-age-ms``, and per branch ``min-snapshots-to-keep`` and
``max-snapshot-age-ms`` along its ancestry (table-wide defaults from `Retention`).

Example:
    >>> kept, expired = retained_refs(metadata, now_ms, retention)     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.table import MAIN

if TYPE_CHECKING:
    from pyiceberg.table.metadata import TableMetadata


@dataclass(frozen=True)
class Retention:
    """The defaults that apply to refs without their own settings (all in milliseconds)."""

    max_snapshot_age_ms: int
    min_snapshots_to_keep: int
    max_ref_age_ms: int | None


def retained_refs(
    metadata: TableMetadata, now_ms: int, retention: Retention
) -> tuple[dict[str, Any], list[str]]:
    """Refs to keep and the sorted names of refs whose ``max-ref-age-ms`` has passed."""
    kept: dict[str, Any] = {}
    removed: list[str] = []
    for name, ref in metadata.refs.items():
        snapshot = metadata.snapshot_by_id(ref.snapshot_id)
        max_age = ref.max_ref_age_ms if ref.max_ref_age_ms is not None else retention.max_ref_age_ms
        # A dangling ref is kept: PyIceberg refuses to remove a ref whose snapshot is unknown.
        if name == MAIN or snapshot is None or max_age is None:
            kept[name] = ref
        elif now_ms - snapshot.timestamp_ms > max_age:
            removed.append(name)
        else:
            kept[name] = ref
    return kept, sorted(removed)


def retained_snapshot_ids(
    metadata: TableMetadata,
    refs: Mapping[str, Any],
    now_ms: int,
    cutoff_ms: int,
    retention: Retention,
) -> set[int]:
    """Snapshot ids Iceberg's ``RemoveSnapshots`` keeps given the refs that stay."""
    from pyiceberg.table.refs import SnapshotRefType

    by_id = {s.snapshot_id: s for s in metadata.snapshots}
    retained: set[int] = set()
    referenced: set[int] = set()
    for ref in refs.values():
        head = by_id.get(ref.snapshot_id)
        if head is None:
            continue
        retained.add(head.snapshot_id)
        if ref.snapshot_ref_type != SnapshotRefType.BRANCH:
            referenced.add(head.snapshot_id)
            continue
        min_keep = (
            ref.min_snapshots_to_keep
            if ref.min_snapshots_to_keep is not None
            else retention.min_snapshots_to_keep
        )
        branch_cutoff = (
            now_ms - ref.max_snapshot_age_ms if ref.max_snapshot_age_ms is not None else cutoff_ms
        )
        kept_here = 0
        walking = True
        for ancestor in ancestors(head, by_id):
            referenced.add(ancestor.snapshot_id)
            if walking and (kept_here < min_keep or ancestor.timestamp_ms >= branch_cutoff):
                retained.add(ancestor.snapshot_id)
                kept_here += 1
            else:
                walking = False
    retained.update(
        s.snapshot_id
        for s in metadata.snapshots
        if s.snapshot_id not in referenced and s.timestamp_ms >= cutoff_ms
    )
    return retained


def ancestors(head: Any, by_id: Mapping[int, Any]) -> Iterator[Any]:
    """``head`` and its ancestors, newest first (PyIceberg's ``ancestors_of`` scans every
    snapshot for each parent: quadratic in the length of the history)."""
    snapshot = head
    while snapshot is not None:
        yield snapshot
        parent = snapshot.parent_snapshot_id
        snapshot = by_id.get(parent) if parent is not None else None
