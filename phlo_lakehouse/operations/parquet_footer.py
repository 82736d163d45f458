"""Parquet footers as Thrift structures: read one, check it can be stitched, write a new one.

A Parquet file is ``PAR1``, the column chunks of its row groups, the footer (a Thrift
compact-protocol ``FileMetaData``), the footer's length (4 bytes, little endian) and ``PAR1``.
Row-group stitching (`phlo_lakehouse.operations.stitch`) copies whole row groups byte for byte
into a new file and writes a new footer whose row groups are the inputs' with every absolute
offset moved by where the bytes landed.

The Thrift codec is fastparquet's (``fastparquet.cencoding``: ``from_buffer`` reads a footer
into nested ``{field id: value}`` dicts, ``write_thrift`` writes them back). That codec is
generic, so this module keeps to what it encodes faithfully and checks the rest:

- it writes field ids 1-13 only: the fields it would drop are optional and are dropped on
  purpose here (bloom filter offsets and size statistics of column chunks, ids 14-17); a
  footer needing a higher id elsewhere (e.g. the UUID logical type) is refused;
- it writes every integer as i32 or i64, never i8/i16: schemas with the integer or variant
  logical types (whose bit width and version are i8) are refused, row-group ordinals (i16) are
  dropped;
- page indexes (column and offset indexes) hold absolute offsets outside the footer: they are
  dropped, as are bloom filters (readers treat both as absent).

`verify_footer` parses every footer written with pyarrow's own Parquet reader and compares it
with the inputs before anything is committed.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAGIC = b"PAR1"
#: FileMetaData fields
_SCHEMA, _NUM_ROWS, _ROW_GROUPS, _KEY_VALUES, _CREATED_BY, _COLUMN_ORDERS = 2, 3, 4, 5, 6, 7
_ENCRYPTION = (8, 9)
#: RowGroup fields
_RG_COLUMNS, _RG_NUM_ROWS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 3, 5, 7
#: ColumnChunk fields
_CC_FILE_PATH, _CC_FILE_OFFSET, _CC_META = 1, 2, 3
_CC_PAGE_INDEXES = (4, 5, 6, 7)
_CC_ENCRYPTED = (8, 9)
#: ColumnMetaData fields
_CM_CODEC, _CM_COMPRESSED = 4, 7
_CM_DATA_PAGE, _CM_INDEX_PAGE, _CM_DICTIONARY_PAGE = 9, 10, 11
_CM_DROPPED = (14, 15, 16, 17)  # bloom filter offset/length, size and geospatial statistics
#: SchemaElement.logicalType (a union) members fastparquet's codec re-encodes faithfully
_LOGICAL_TYPES_OK = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13})
#: Parquet's CompressionCodec enum, by Iceberg's ``write.parquet.compression-codec`` names
CODECS = {"uncompressed": 0, "snappy": 1, "gzip": 2, "lzo": 3, "brotli": 4, "lz4": 7, "zstd": 6}


class FooterError(ValueError):
    """Raised when a footer cannot be read or stitched (the caller falls back to decoding)."""


@dataclass(frozen=True)
class RowGroupSpan:
    """One row group of an input file: its bytes ``[start, start + length)`` and metadata."""

    start: int
    length: int
    num_rows: int
    metadata: dict[int, Any]


@dataclass(frozen=True)
class Footer:
    """A parsed footer: the Thrift dict, its encoded size and the row groups' byte spans."""

    metadata: dict[int, Any]
    size: int
    row_groups: tuple[RowGroupSpan, ...]

    @property
    def schema(self) -> list[Any]:
        return self.metadata[_SCHEMA]

    @property
    def codecs(self) -> set[int]:
        return {c[_CC_META][_CM_CODEC] for rg in self.row_groups for c in rg.metadata[_RG_COLUMNS]}

    def layout_key(self) -> tuple[Any, ...]:
        """What must be identical between files whose row groups go into one file."""
        return (
            repr(self.metadata[_SCHEMA]),
            repr(self.metadata.get(_KEY_VALUES)),
            self.metadata.get(_CREATED_BY),
            repr(self.metadata.get(_COLUMN_ORDERS)),
        )


def read_footer(stream: Any, file_size: int) -> Footer:
    """Parse the footer of the Parquet file open as ``stream`` (seekable, ``file_size`` bytes)."""
    from fastparquet.cencoding import from_buffer

    if file_size < 12:
        raise FooterError("file too small for Parquet")
    stream.seek(file_size - 8)
    tail = stream.read(8)
    if tail[4:] != MAGIC:
        raise FooterError("not a plain Parquet file (encrypted or not Parquet)")
    (size,) = struct.unpack("<I", tail[:4])
    if size + 12 > file_size:
        raise FooterError("footer length exceeds the file")
    stream.seek(file_size - 8 - size)
    raw = stream.read(size)
    try:
        metadata = from_buffer(raw)
    except Exception as e:
        raise FooterError(f"unreadable footer: {e}") from e
    problem = _unsupported(metadata)
    if problem:
        raise FooterError(problem)
    spans = tuple(_span(rg, file_size - 8 - size) for rg in metadata.get(_ROW_GROUPS) or [])
    return Footer(metadata, size, spans)


def _unsupported(metadata: dict[int, Any]) -> str | None:
    if any(metadata.get(f) is not None for f in _ENCRYPTION):
        return "encrypted footer"
    for element in metadata.get(_SCHEMA) or []:
        logical = element.get(10)
        if logical and any(k not in _LOGICAL_TYPES_OK for k in logical if isinstance(k, int)):
            return "a logical type the footer codec cannot re-encode"
        if any(isinstance(k, int) and k > 13 for k in element):
            return "a schema field the footer codec cannot re-encode"
    for rg in metadata.get(_ROW_GROUPS) or []:
        if rg.get(4):
            return "sorted row groups (sorting_columns)"
        for chunk in rg[_RG_COLUMNS]:
            if chunk.get(_CC_FILE_PATH) is not None:
                return "column chunks in another file"
            if any(chunk.get(f) is not None for f in _CC_ENCRYPTED):
                return "encrypted column chunks"
    return None


def _chunk_start(meta: dict[int, Any]) -> int:
    dictionary = meta.get(_CM_DICTIONARY_PAGE)
    data = meta[_CM_DATA_PAGE]
    return dictionary if dictionary is not None and 0 < dictionary < data else data


def _span(row_group: dict[int, Any], footer_start: int) -> RowGroupSpan:
    """The contiguous bytes of ``row_group``'s column chunks (refused if not contiguous)."""
    chunks = sorted(
        (_chunk_start(c[_CC_META]), c[_CC_META][_CM_COMPRESSED]) for c in row_group[_RG_COLUMNS]
    )
    if not chunks:
        raise FooterError("row group without columns")
    start = chunks[0][0]
    position = start
    for chunk_start, length in chunks:
        if chunk_start != position:
            raise FooterError("column chunks of a row group are not contiguous")
        position += length
    if start < len(MAGIC) or position > footer_start:
        raise FooterError("row group outside the data section")
    return RowGroupSpan(start, position - start, row_group[_RG_NUM_ROWS], row_group)


def rebased_row_group(span: RowGroupSpan, new_start: int) -> dict[int, Any]:
    """``span``'s RowGroup with every offset moved to ``new_start``; page indexes, bloom filters
    and the ordinal dropped (see the module docstring)."""
    delta = new_start - span.start
    row_group = dict(span.metadata)
    row_group.pop(_RG_ORDINAL, None)
    columns = []
    for chunk in span.metadata[_RG_COLUMNS]:
        meta = dict(chunk[_CC_META])
        for key in (_CM_DATA_PAGE, _CM_INDEX_PAGE, _CM_DICTIONARY_PAGE):
            if meta.get(key):
                meta[key] += delta
        for key in _CM_DROPPED:
            meta.pop(key, None)
        new_chunk = {k: v for k, v in chunk.items() if k not in _CC_PAGE_INDEXES}
        new_chunk[_CC_META] = meta
        old_offset = chunk.get(_CC_FILE_OFFSET) or 0
        inside = span.start <= old_offset < span.start + span.length
        new_chunk[_CC_FILE_OFFSET] = old_offset + delta if inside else _chunk_start(meta)
        columns.append(new_chunk)
    row_group[_RG_COLUMNS] = columns
    if row_group.get(_RG_FILE_OFFSET) is not None:
        row_group[_RG_FILE_OFFSET] = new_start
    return row_group


def encode_footer(template: Footer, row_groups: Sequence[dict[int, Any]]) -> bytes:
    """The footer (with length and magic) of a file made of ``row_groups``, every other field
    (schema, key/value metadata, writer, column orders) taken from ``template``."""
    import numpy as np
    from fastparquet.cencoding import NumpyIO, write_thrift

    metadata = dict(template.metadata)
    metadata[_ROW_GROUPS] = list(row_groups)
    metadata[_NUM_ROWS] = sum(rg[_RG_NUM_ROWS] for rg in row_groups)
    # The codec writes into a fixed buffer without bounds checks: size it from what goes in
    # (every rebased offset may grow by a few varint bytes; 64 per column chunk is ample).
    chunks = sum(len(rg[_RG_COLUMNS]) for rg in row_groups)
    per_group = max((len(repr(rg)) for rg in row_groups), default=0)
    capacity = template.size + len(row_groups) * (per_group + 64) + 64 * chunks + (1 << 16)
    buffer = np.empty(capacity, dtype="uint8")
    out = NumpyIO(buffer)
    write_thrift(metadata, out)
    if out.tell() > capacity:  # pragma: no cover - the bound above makes this unreachable
        raise FooterError("footer buffer overflow")
    encoded = bytes(out.so_far())
    return encoded + struct.pack("<I", len(encoded)) + MAGIC


def verify_footer(encoded: bytes, template_schema: Any, expected: Sequence[RowGroupSpan]) -> Any:
    """Parse ``encoded`` (from `encode_footer`) with pyarrow and check it against the inputs:
    same schema, same row counts and row-group sizes. Returns pyarrow's ``FileMetaData``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parsed = pq.read_metadata(pa.BufferReader(MAGIC + encoded))
    except (OSError, pa.ArrowException) as e:
        raise FooterError(f"the stitched footer does not parse: {e}") from e
    if not parsed.schema.equals(template_schema):
        raise FooterError("the stitched footer's schema differs from the inputs'")
    if parsed.num_row_groups != len(expected):
        raise FooterError("the stitched footer lost row groups")
    for index, span in enumerate(expected):
        group = parsed.row_group(index)
        if group.num_rows != span.num_rows or group.total_byte_size <= 0:
            raise FooterError(f"row group {index} of the stitched footer differs from its input")
    return parsed
