"""Did a commit land? Its effects looked for in every table version since its base.

A commit is recognised by what its updates do: the snapshot it adds (snapshot ids are unique),
where it points a ref, the schema it makes current, the properties it sets, the refs and
snapshots it removes. Those effects are checked in each version of the table newer than the one
the commit was based on — not only the current one, since a concurrent commit may have moved the
table on (and on Nessie each version keeps only its own snapshot). Versions come from the table's
metadata log, or for Nessie from the branch's commit log, which Nessie's table metadata does
not carry.

Example:
    >>> effects_visible([], metadata)        # doctest: +SKIP
    None
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.update import TableUpdate

#: Table versions looked at, newest first, before giving up on finding the base.
MAX_VERSIONS = 200


def effects_visible(updates: Sequence[TableUpdate], metadata: TableMetadata) -> bool | None:
    """True when every recognisable effect of ``updates`` holds in ``metadata``, False when one
    does not, None when the updates have no recognisable effect."""
    from pyiceberg.table.update import (
        AddSchemaUpdate,
        AddSnapshotUpdate,
        RemovePropertiesUpdate,
        RemoveSnapshotRefUpdate,
        RemoveSnapshotsUpdate,
        SetCurrentSchemaUpdate,
        SetPropertiesUpdate,
        SetSnapshotRefUpdate,
    )

    checks: list[bool] = []
    snapshot_ids = {s.snapshot_id for s in metadata.snapshots}
    added_schema = None
    for update in updates:
        if isinstance(update, AddSnapshotUpdate):
            checks.append(update.snapshot.snapshot_id in snapshot_ids)
        elif isinstance(update, SetSnapshotRefUpdate):
            ref = metadata.refs.get(update.ref_name)
            checks.append(ref is not None and ref.snapshot_id == update.snapshot_id)
        elif isinstance(update, RemoveSnapshotRefUpdate):
            checks.append(update.ref_name not in metadata.refs)
        elif isinstance(update, RemoveSnapshotsUpdate):
            checks.append(not (set(update.snapshot_ids) & snapshot_ids))
        elif isinstance(update, AddSchemaUpdate):
            added_schema = update.schema_
        elif isinstance(update, SetCurrentSchemaUpdate):
            current = metadata.schema()
            if update.schema_id == -1 and added_schema is not None:
                checks.append(_same_schema(current, added_schema))
            else:
                checks.append(metadata.current_schema_id == update.schema_id)
        elif isinstance(update, SetPropertiesUpdate):
            checks.append(all(metadata.properties.get(k) == v for k, v in update.updates.items()))
        elif isinstance(update, RemovePropertiesUpdate):
            checks.append(not any(k in metadata.properties for k in update.removals))
    return all(checks) if checks else None


def _same_schema(a: Any, b: Any) -> bool:
    return tuple(a.fields) == tuple(b.fields) and set(a.identifier_field_ids) == set(
        b.identifier_field_ids
    )


def landed(table: Table, updates: Sequence[TableUpdate], base_location: str | None) -> bool:
    """Whether a commit of ``updates`` based on the version at ``base_location`` is in the
    catalog now: its effects hold in a version newer than the base. The catalog is re-read;
    ``table`` itself is left as it was (so the identical commit can be sent again).

    Raises:
        Exception: the catalog or storage could not be read (callers retry transient errors).
    """
    for metadata in versions_since(table, base_location):
        if effects_visible(updates, metadata):
            return True
    return False


def versions_since(table: Table, base_location: str | None) -> Iterator[TableMetadata]:
    """The table's versions newer than ``base_location``, newest first (freshly read)."""
    from pyiceberg.serializers import FromInputFile

    nessie = _nessie_source(table)
    if nessie is not None:
        yield from _nessie_versions(table, base_location, *nessie)
        return
    current = table.catalog.load_table(table.name())
    if current.metadata_location == base_location:
        return
    yield current.metadata
    for entry in reversed(current.metadata.metadata_log[-MAX_VERSIONS:]):
        if entry.metadata_file == base_location:
            return
        yield FromInputFile.table_metadata(current.io.new_input(entry.metadata_file))


def _nessie_source(table: Table) -> tuple[str, str] | None:
    """(Nessie base URI, reference) when ``table`` comes from a Nessie catalog, else None."""
    from phlo_lakehouse.catalogs import NESSIE_REF_PROPERTY, NESSIE_URI_PROPERTY

    props = getattr(table.catalog, "properties", {}) or {}
    if props.get(NESSIE_URI_PROPERTY):
        return props[NESSIE_URI_PROPERTY], props.get(NESSIE_REF_PROPERTY) or "main"
    return None


def _nessie_versions(
    table: Table, base_location: str | None, nessie_uri: str, ref: str
) -> Iterator[TableMetadata]:
    from pyiceberg.serializers import FromInputFile

    from phlo_lakehouse.nessie import NessieReferences

    key = ".".join(table.name())
    history = NessieReferences(nessie_uri).table_history(key, ref, limit=MAX_VERSIONS)
    for state in history:
        if state.metadata_location is None or state.metadata_location == base_location:
            return
        yield FromInputFile.table_metadata(table.io.new_input(state.metadata_location))
