"""Format v3 manifest lists and manifests, read and written with their row lineage.

PyIceberg 0.12 reads manifest lists and manifests with its v2 schemas, which drop the v3
fields: a manifest's ``first_row_id`` and a data file's ``first_row_id``,
``referenced_data_file``, ``content_offset`` and ``content_size_in_bytes``; and it has no v3
manifest-list writer. Rewriting manifests on v3 needs all of them, so this module reads with
PyIceberg's v3 Avro schemas (``MANIFEST_LIST_FILE_SCHEMAS[3]``, ``MANIFEST_ENTRY_SCHEMAS[3]``)
and writes v3 manifest lists itself.

Row lineage rules (Iceberg spec, "Row Lineage"; the reader rules as Iceberg Java 1.10's
``ManifestReader`` applies them, which is what Spark's ``_row_id`` comes from):

- reading a committed data manifest whose ``first_row_id`` is null gives every file a null
  ``first_row_id`` (rows written before an upgrade to v3 have no row ids);
- otherwise each live (not DELETED) data file without a ``first_row_id`` inherits the manifest's
  ``first_row_id`` plus the record counts of the live files before it that inherited too, in
  file order; `read_lineage_entries` writes that value into the file, so moving the entry into
  a new manifest keeps its rows' ``_row_id``;
- writing a manifest list assigns each data manifest without a ``first_row_id`` the next row id
  and advances it by the manifest's added and existing rows (what Iceberg Java's v3 writer
  does); the snapshot's ``added-rows`` is the range assigned, and the table's ``next-row-id``
  advances by it when the snapshot is added.

Example:
    >>> from phlo_lakehouse._upstream.manifests_v3 import MANIFEST_FIRST_ROW_ID
    >>> MANIFEST_FIRST_ROW_ID
    'first_row_id'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from pyiceberg.io import FileIO, OutputFile
    from pyiceberg.manifest import DataFile, ManifestEntry, ManifestFile

MANIFEST_FIRST_ROW_ID = "first_row_id"
_V3: Final[Literal[3]] = 3


def _position(struct: Any, name: str) -> int:
    return [f.name for f in struct.fields].index(name)


def manifest_first_row_id(manifest: ManifestFile) -> int | None:
    """A manifest-list record's ``first_row_id`` (None when it was read without one)."""
    from pyiceberg.manifest import MANIFEST_LIST_FILE_SCHEMAS

    position = _position(MANIFEST_LIST_FILE_SCHEMAS[_V3], MANIFEST_FIRST_ROW_ID)
    return manifest[position] if len(manifest) > position else None


def data_file_field(data_file: DataFile, name: str) -> Any:
    """A v3 data-file field by name (``first_row_id``, ``referenced_data_file`` …), None when
    the record does not have it."""
    from pyiceberg.manifest import DATA_FILE_TYPE

    position = _position(DATA_FILE_TYPE[_V3], name)
    return data_file[position] if len(data_file) > position else None


def read_manifest_list(io: FileIO, manifest_list: str) -> list[ManifestFile]:
    """The manifests a v3 manifest list names, with their ``first_row_id``."""
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.manifest import (
        MANIFEST_LIST_FILE_SCHEMAS,
        ManifestContent,
        ManifestFile,
        PartitionFieldSummary,
    )

    with AvroFile[ManifestFile](
        io.new_input(manifest_list),
        MANIFEST_LIST_FILE_SCHEMAS[_V3],
        read_types={-1: ManifestFile, 508: PartitionFieldSummary},
        read_enums={517: ManifestContent},
    ) as reader:
        return list(reader)


def read_lineage_entries(io: FileIO, manifest: ManifestFile) -> list[ManifestEntry]:
    """The live entries of ``manifest`` with v3 data files, each data file's ``first_row_id``
    materialised by the inheritance rules above (sequence numbers and snapshot ids inherited
    as PyIceberg's reader does)."""
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.manifest import (
        DATA_FILE_TYPE,
        MANIFEST_ENTRY_SCHEMAS,
        DataFile,
        DataFileContent,
        FileFormat,
        ManifestEntry,
        ManifestEntryStatus,
        _inherit_from_manifest,
    )

    names = [f.name for f in DATA_FILE_TYPE[_V3].fields]
    next_row_id = manifest_first_row_id(manifest)
    with AvroFile[ManifestEntry](
        io.new_input(manifest.manifest_path),
        MANIFEST_ENTRY_SCHEMAS[_V3],
        read_types={-1: ManifestEntry, 2: DataFile},
        read_enums={0: ManifestEntryStatus, 101: FileFormat, 134: DataFileContent},
    ) as reader:
        entries = list(reader)
    live = []
    for entry in entries:
        read = entry.data_file
        values = {n: read[i] if i < len(read) else None for i, n in enumerate(names)}
        deleted = entry.status == ManifestEntryStatus.DELETED
        if read.content == DataFileContent.DATA and not deleted:
            if next_row_id is None:
                values[MANIFEST_FIRST_ROW_ID] = None  # no lineage before the upgrade to v3
            elif values[MANIFEST_FIRST_ROW_ID] is None:
                values[MANIFEST_FIRST_ROW_ID] = next_row_id
                next_row_id += read.record_count
        if deleted:
            continue
        entry.data_file = DataFile.from_args(_table_format_version=_V3, **values)
        live.append(_inherit_from_manifest(entry, manifest))
    return live


def write_manifest_list(
    output: OutputFile,
    manifests: Sequence[ManifestFile],
    *,
    snapshot_id: int,
    parent_snapshot_id: int | None,
    sequence_number: int,
    first_row_id: int,
    compression: str,
) -> int:
    """Write a v3 manifest list of ``manifests`` for a new snapshot whose ``first-row-id`` is
    ``first_row_id`` (the table's ``next-row-id``); manifests this commit wrote get the commit's
    sequence number. Returns the row id after the last one assigned (the snapshot's
    ``added-rows`` is the difference)."""
    from pyiceberg.avro.codecs import AVRO_CODEC_KEY
    from pyiceberg.avro.file import AvroOutputFile
    from pyiceberg.manifest import (
        MANIFEST_LIST_FILE_SCHEMAS,
        UNASSIGNED_SEQ,
        ManifestContent,
        ManifestFile,
    )

    schema = MANIFEST_LIST_FILE_SCHEMAS[_V3]
    names = [f.name for f in schema.fields]
    next_row_id = first_row_id
    records = []
    for manifest in manifests:
        values = {n: manifest[i] if i < len(manifest) else None for i, n in enumerate(names)}
        for key in ("sequence_number", "min_sequence_number"):
            if values[key] == UNASSIGNED_SEQ:
                if manifest.added_snapshot_id != snapshot_id:
                    raise ValueError(f"unassigned {key} in a manifest of another snapshot")
                values[key] = sequence_number
        if manifest.content == ManifestContent.DATA and values[MANIFEST_FIRST_ROW_ID] is None:
            values[MANIFEST_FIRST_ROW_ID] = next_row_id
            next_row_id += (manifest.existing_rows_count or 0) + (manifest.added_rows_count or 0)
        records.append(ManifestFile.from_args(_table_format_version=_V3, **values))
    metadata = {
        "snapshot-id": str(snapshot_id),
        "parent-snapshot-id": str(parent_snapshot_id) if parent_snapshot_id is not None else "null",
        "sequence-number": str(sequence_number),
        "first-row-id": str(first_row_id),
        "format-version": str(_V3),
        AVRO_CODEC_KEY: compression,
    }
    with AvroOutputFile[ManifestFile](
        output_file=output,
        file_schema=schema,
        record_schema=schema,
        schema_name="manifest_file",
        metadata=metadata,
    ) as writer:
        writer.write_block(records)
    return next_row_id


def as_v3_data_file(data_file: DataFile, **fields: Any) -> DataFile:
    """``data_file`` as a v3 data-file record (the v3 fields None unless given in ``fields``),
    its ``spec_id`` kept: what a v3 manifest writer needs for a file PyIceberg built."""
    from pyiceberg.manifest import DATA_FILE_TYPE, DataFile

    names = [f.name for f in DATA_FILE_TYPE[_V3].fields]
    values = {n: data_file[i] if i < len(data_file) else None for i, n in enumerate(names)}
    values.update(fields)
    converted = DataFile.from_args(_table_format_version=_V3, **values)
    converted.spec_id = data_file.spec_id
    return converted


def live_lineage_entries(io: FileIO, manifest_list: str) -> dict[str, list[ManifestEntry]]:
    """The live entries of every manifest (data and deletes) of a v3 snapshot's manifest list,
    by manifest path, read with `read_lineage_entries`."""
    return {
        m.manifest_path: read_lineage_entries(io, m) for m in read_manifest_list(io, manifest_list)
    }
