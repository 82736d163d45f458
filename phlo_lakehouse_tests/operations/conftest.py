"""Helpers shared by the operation tests: row snapshots and file inventories of real tables."""

from __future__ import annotations

import pyarrow as pa

from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.table import LakehouseTable


def rows_of(handle: LakehouseTable) -> list[dict]:
    """The ref's rows as plain dicts in event_id order (string types normalised)."""
    table = handle.to_arrow()
    plain = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in table.schema]
    )
    return table.cast(plain).sort_by("event_id").to_pylist()


def data_file_paths(handle: LakehouseTable) -> set[str]:
    """Paths of the ref's live data files."""
    return {f.path for f in live_files(handle.table, handle.snapshot).data}


def referenced_by(
    metadata,
    io,
    *,
    deleted_entries: bool = False,
    cache: dict[str, set[str]] | None = None,
    expired_ok: bool = False,
) -> set[str]:
    """Files ``metadata`` references through its snapshots — manifest lists, manifests, data and
    delete files (with ``deleted_entries``, also files its manifests list as deleted) — read
    with PyIceberg's public API only: an oracle independent of the operations' own readers.

    ``cache`` (manifest list or manifest path -> what it references; both files are immutable)
    lets a walk over many metadata files of one history read each of them once (one cache
    per ``deleted_entries`` setting). With ``expired_ok``, a manifest list that no longer exists
    (an old metadata file's snapshot that expiry removed and deleted) is skipped: what only it
    referenced then counts as unreferenced, so a garbage check gets stricter, never laxer."""
    memo: dict[str, set[str]] = {} if cache is None else cache
    found: set[str] = set()
    for snapshot in metadata.snapshots:
        path = snapshot.manifest_list
        if path not in memo:
            expired = expired_ok and not io.new_input(path).exists()
            memo[path] = set() if expired else _listed_by(snapshot, io, deleted_entries, memo)
        found |= memo[path]
    return found


def _listed_by(snapshot, io, deleted_entries: bool, memo: dict[str, set[str]]) -> set[str]:
    """The snapshot's manifest list, its manifests and their files (each manifest read once)."""
    listed = {snapshot.manifest_list}
    for manifest in snapshot.manifests(io):
        if manifest.manifest_path not in memo:
            entries = manifest.fetch_manifest_entry(io, discard_deleted=not deleted_entries)
            memo[manifest.manifest_path] = {manifest.manifest_path} | {
                e.data_file.file_path for e in entries
            }
        listed |= memo[manifest.manifest_path]
    return listed
