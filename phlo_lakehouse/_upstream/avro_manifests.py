"""Projected reads of manifests and manifest lists: only the paths, everything else skipped.

Building the reachable set (vacuum, expire) needs each manifest's file paths, not its data file
records with their statistics maps. PyIceberg's Avro reader can skip what a read schema leaves
out, but its schema resolver refuses a projection that leaves out nested fields (the ``partition``
struct, the statistics maps); `_SkippingAccessor` lets it build skip readers for those.

Two readers are resolved per distinct file schema, once, and reused for every file that has it:
the projection over the whole record, and one over the record's leading fields only (up to the
file path). An Avro block states its byte length, so when a block holds a single entry - as every
block of a PyIceberg-written manifest does - the entry's leading fields are read and the rest of
the block is never decoded.

Example:
    >>> manifest_content_paths(table.io, manifest.manifest_path)     # doctest: +SKIP
    [('s3://bucket/t/data/a.parquet', 0), ('s3://bucket/t/data/a-deletes.parquet', 1)]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

#: Reads a whole file: its path to its bytes (default: through the FileIO).
Reader = Callable[[str], bytes]

#: Manifest entry status of a file removed by the manifest's snapshot.
DELETED = 2
_STATUS, _DATA_FILE, _FILE_PATH, _CONTENT = 0, 2, 100, 134
_MANIFEST_PATH, _ADDED_FILES, _EXISTING_FILES = 500, 504, 505
_readers: dict[tuple[str, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


def manifest_content_paths(
    io: FileIO, manifest_path: str, *, live_only: bool = True, read: Reader | None = None
) -> list[tuple[str, int]]:
    """(file path, content) of each entry of a manifest; content 0 is data, 1 position deletes,
    2 equality deletes. ``live_only`` leaves out entries with status DELETED. ``read`` reads the
    file's bytes (default: FileIO)."""
    rows = _read(io, manifest_path, "entries", read)
    return [
        (entry[1][0], entry[1][1] or 0) for entry in rows if not live_only or entry[0] != DELETED
    ]


def manifest_list_paths(io: FileIO, manifest_list: str, *, read: Reader | None = None) -> list[str]:
    """The manifest paths a manifest list names."""
    return [row[0] for row in _read(io, manifest_list, "list", read)]


def manifest_list_live(
    io: FileIO, manifest_list: str, *, read: Reader | None = None
) -> list[tuple[str, bool]]:
    """(manifest path, may hold live entries) for each manifest a manifest list names. A manifest
    whose added and existing file counts are both 0 holds only DELETED entries (its live entries
    are none, unread); when a count is missing (optional before format v2), it may hold some."""
    return [
        (row[0], row[1] is None or row[2] is None or row[1] + row[2] > 0)
        for row in _read(io, manifest_list, "list", read)
    ]


def _read(io: FileIO, path: str, kind: str, read: Reader | None = None) -> list[Any]:
    from pyiceberg.avro.decoder import new_decoder
    from pyiceberg.avro.file import SYNC_SIZE

    if read is not None:
        decoder = new_decoder(read(path))
    else:
        with io.new_input(path).open() as stream:
            decoder = new_decoder(stream.read())
    header = _header_reader().read(decoder)
    whole, leading = _readers_for(header, kind)
    codec = header.compression_codec()
    rows: list[Any] = []
    while True:
        try:
            count = decoder.read_int()
        except EOFError:
            return rows
        block = decoder.read_bytes()
        block_decoder = new_decoder(codec.decompress(block) if codec else block)
        reader = leading if count == 1 else whole
        rows.extend(reader.read(block_decoder) for _ in range(count))
        if decoder.read(SYNC_SIZE) != header.sync:
            raise ValueError(f"{path}: an Avro block does not end with the file's sync marker")


@cache
def _header_reader() -> Any:
    from pyiceberg.avro.file import META_SCHEMA, AvroFileHeader
    from pyiceberg.avro.resolver import construct_reader

    return construct_reader(META_SCHEMA, {-1: AvroFileHeader})


def _readers_for(header: Any, kind: str) -> tuple[Any, Any]:
    """(reader of whole records, reader of their leading fields) for this file schema."""
    from pyiceberg.avro.resolver import ReadSchemaResolver
    from pyiceberg.schema import visit_with_partner

    key = (header.meta.get("avro.schema", ""), kind)
    with _lock:
        readers = _readers.get(key)
        if readers is None:
            schema = header.get_schema()
            whole, leading = (
                visit_with_partner(s, _projection(kind), ReadSchemaResolver(), _accessor())
                for s in (schema, _leading_fields(schema, kind))
            )
            readers = _readers[key] = (whole, leading)
    return readers


def _leading_fields(schema: Any, kind: str) -> Any:
    """``schema`` cut after the last field the projection reads, wherever the writer put it."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import StructType

    def upto(fields: tuple[Any, ...], wanted: set[int]) -> list[Any]:
        present = [i for i, f in enumerate(fields) if f.field_id in wanted]
        return list(fields[: max(present) + 1]) if present else list(fields)

    if kind == "list":
        return Schema(*upto(schema.fields, {_MANIFEST_PATH, _ADDED_FILES, _EXISTING_FILES}))
    fields = upto(schema.fields, {_STATUS, _DATA_FILE})
    for position, field in enumerate(fields):
        if field.field_id == _DATA_FILE and isinstance(field.field_type, StructType):
            cut = StructType(*upto(field.field_type.fields, {_FILE_PATH, _CONTENT}))
            fields[position] = field.model_copy(update={"field_type": cut})
    return Schema(*fields)


@cache
def _projection(kind: str) -> Any:
    from pyiceberg.schema import Schema
    from pyiceberg.types import IntegerType, NestedField, StringType, StructType

    if kind == "list":
        return Schema(
            NestedField(_MANIFEST_PATH, "manifest_path", StringType(), required=True),
            NestedField(_ADDED_FILES, "added_files_count", IntegerType(), required=False),
            NestedField(_EXISTING_FILES, "existing_files_count", IntegerType(), required=False),
        )
    return Schema(
        NestedField(_STATUS, "status", IntegerType(), required=True),
        NestedField(
            _DATA_FILE,
            "data_file",
            StructType(
                NestedField(_FILE_PATH, "file_path", StringType(), required=True),
                NestedField(_CONTENT, "content", IntegerType(), required=False),
            ),
            required=True,
        ),
    )


@cache
def _accessor() -> Any:
    from pyiceberg.avro.resolver import SchemaPartnerAccessor

    class _SkippingAccessor(SchemaPartnerAccessor):
        """No partner below a field the projection leaves out: the resolver skips it whole."""

        def field_partner(self, partner: Any, field_id: int, field_name: str) -> Any:
            return None if partner is None else super().field_partner(partner, field_id, field_name)

        def list_element_partner(self, partner_list: Any) -> Any:
            return None if partner_list is None else super().list_element_partner(partner_list)

        def map_key_partner(self, partner_map: Any) -> Any:
            return None if partner_map is None else super().map_key_partner(partner_map)

        def map_value_partner(self, partner_map: Any) -> Any:
            return None if partner_map is None else super().map_value_partner(partner_map)

    return _SkippingAccessor()
