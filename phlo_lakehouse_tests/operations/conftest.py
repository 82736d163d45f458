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


def referenced_by(metadata, io, *, deleted_entries: bool = False) -> set[str]:
    """Files ``metadata`` references through its snapshots — manifest lists, manifests, data and
    delete files (with ``deleted_entries``, also files its manifests list as deleted) — read
    with PyIceberg's public API only: an oracle independent of the operations' own readers."""
    found: set[str] = set()
    for snapshot in metadata.snapshots:
        found.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            found.add(manifest.manifest_path)
            entries = manifest.fetch_manifest_entry(io, discard_deleted=not deleted_entries)
            found.update(e.data_file.file_path for e in entries)
    return found
