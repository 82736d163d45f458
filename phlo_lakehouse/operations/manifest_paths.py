"""Projected reads of manifests and manifest lists: only the paths, everything else skipped.

Building the reachable set (vacuum, expire) needs each manifest's file paths, not its data file
records with their statistics maps. PyIceberg's Avro reader can skip what a read schema leaves
out, but its schema resolver refuses a projection that leaves out nested fields (the ``partition``
struct, the statistics maps); `_SkippingAccessor` lets it build skip readers for those. The
reader tree is resolved once per distinct file schema and reused for every file that has it.

Example:
    >>> manifest_content_paths(table.io, manifest.manifest_path)     # doctest: +SKIP
    [('s3://bucket/t/data/a.parquet', 0), ('s3://bucket/t/data/a-deletes.parquet', 1)]
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

#: Manifest entry status of a file removed by the manifest's snapshot.
DELETED = 2
_readers: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def manifest_content_paths(
    io: FileIO, manifest_path: str, *, live_only: bool = True
) -> list[tuple[str, int]]:
    """(file path, content) of each entry of a manifest; content 0 is data, 1 position deletes,
    2 equality deletes. ``live_only`` leaves out entries with status DELETED."""
    rows = _read(io, manifest_path, "entries")
    return [
        (entry[1][0], entry[1][1] or 0) for entry in rows if not live_only or entry[0] != DELETED
    ]


def manifest_list_paths(io: FileIO, manifest_list: str) -> list[str]:
    """The manifest paths a manifest list names."""
    return [row[0] for row in _read(io, manifest_list, "list")]


def _read(io: FileIO, path: str, kind: str) -> list[Any]:
    from pyiceberg.avro.decoder import new_decoder
    from pyiceberg.avro.file import AvroFile

    # AvroFile.__enter__ resolves the full schema; read the header with it, not the reader.
    projected = AvroFile(io.new_input(path))
    with projected.input_file.open() as stream:
        projected.decoder = new_decoder(stream.read())
    projected.header = projected._read_header()  # noqa: SLF001 - header parsing is AvroFile's
    projected.reader = _reader(projected.header, kind)
    return list(projected)


def _reader(header: Any, kind: str) -> Any:
    from pyiceberg.avro.resolver import ReadSchemaResolver
    from pyiceberg.schema import visit_with_partner

    key = (header.meta.get("avro.schema", ""), kind)
    with _lock:
        reader = _readers.get(key)
        if reader is None:
            reader = visit_with_partner(
                header.get_schema(), _projection(kind), ReadSchemaResolver(), _accessor()
            )
            _readers[key] = reader
    return reader


@cache
def _projection(kind: str) -> Any:
    from pyiceberg.schema import Schema
    from pyiceberg.types import IntegerType, NestedField, StringType, StructType

    if kind == "list":
        return Schema(NestedField(500, "manifest_path", StringType(), required=True))
    return Schema(
        NestedField(0, "status", IntegerType(), required=True),
        NestedField(
            2,
            "data_file",
            StructType(
                NestedField(100, "file_path", StringType(), required=True),
                NestedField(134, "content", IntegerType(), required=False),
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
