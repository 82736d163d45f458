"""Writing Puffin statistics files (the Iceberg Puffin spec, version 1) and the theta-sketch
NDV blobs ``apache-datasketches-theta-v1`` that Iceberg Java, Spark and Trino read.

Layout: ``Magic Blob₁ … Blobₙ Footer``; the footer is ``Magic FooterPayload
FooterPayloadSize Flags Magic`` with an uncompressed JSON payload (flags all zero), as Iceberg's
``PuffinWriter`` writes it. Blobs are zstd-compressed like Iceberg's own NDV blobs, and carry the
``ndv`` property (the sketch's estimate, rounded down) that engines read without opening the blob.

Sketches come from Apache DataSketches (the ``datasketches`` package): an update theta sketch
with the default seed and size, compacted and serialized. Iceberg feeds each value's
single-value serialization to the sketch. The Python binding hashes ``str`` as its UTF-8 bytes
and ``int`` as its 8 little-endian bytes, which is exactly that serialization for string, long,
timestamp, timestamptz and time columns (and boolean, fed as one-character strings "\\x00" and
"\\x01"): those sketches are hash-identical to Java's and can be merged with them. Other types
go through the binding's ``int``/``float``/``str`` overloads: their NDV is as exact, but their
hashes differ from Java's (see docs/maintenance.md).

Example:
    >>> import pyarrow as pa
    >>> from pyiceberg.types import LongType
    >>> sketch = ColumnSketch(LongType())
    >>> sketch.update(pa.array([1, 2, 2, 3]))
    >>> sketch.estimate()
    3.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.io import FileIO
    from pyiceberg.types import IcebergType

MAGIC = b"PFA1"
THETA_BLOB_TYPE = "apache-datasketches-theta-v1"
NDV_PROPERTY = "ndv"

#: Types whose values the binding hashes exactly as Iceberg's single-value serialization.
HASH_COMPATIBLE_TYPES = ("string", "long", "timestamp", "timestamptz", "time", "boolean")


class ColumnSketch:
    """A theta sketch of one column's distinct non-null values."""

    def __init__(self, iceberg_type: IcebergType) -> None:
        from datasketches import update_theta_sketch

        self.type = iceberg_type
        self.sketch = update_theta_sketch()
        self._feed = _feeder(str(iceberg_type))

    def update(self, values: pa.Array | pa.ChunkedArray) -> None:
        """Add the distinct non-null values of ``values``."""
        import pyarrow.compute as pc

        distinct = pc.unique(values.drop_null())
        for value in self._feed(distinct):
            self.sketch.update(value)

    def estimate(self) -> float:
        return self.sketch.get_estimate()

    def serialize(self) -> bytes:
        """The compact sketch, as Iceberg's ``CompactSketch.toByteArray()`` stores it."""
        return self.sketch.compact().serialize()


def _feeder(type_name: str) -> Any:
    """Values of an Arrow array of ``type_name`` as the binding's update overloads take them."""
    import pyarrow as pa

    def as_int64(values: pa.Array) -> list[int]:
        if pa.types.is_date32(values.type):
            values = values.cast(pa.int32())
        return values.cast(pa.int64()).to_pylist()

    if type_name in ("long", "int", "date") or type_name.startswith(("timestamp", "time")):
        return as_int64
    if type_name == "boolean":
        return lambda values: ["\x01" if v else "\x00" for v in values.to_pylist()]
    if type_name in ("float", "double"):
        return lambda values: values.cast(pa.float64()).to_pylist()
    if type_name == "string":
        return lambda values: values.to_pylist()
    # binary, fixed, uuid, decimal: a lossless text form (hex of the bytes, the decimal's digits)
    return lambda values: [v.hex() if isinstance(v, bytes) else str(v) for v in values.to_pylist()]


@dataclass
class PuffinBlob:
    """One blob to write: its type, field ids, snapshot, payload and properties."""

    type: str
    fields: list[int]
    snapshot_id: int
    sequence_number: int
    payload: bytes
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WrittenPuffin:
    """Where a Puffin file went, its sizes and each blob's footer metadata."""

    path: str
    file_size_in_bytes: int
    footer_size_in_bytes: int
    blobs: list[dict[str, Any]]


def write_puffin(
    io: FileIO, path: str, blobs: list[PuffinBlob], *, created_by: str
) -> WrittenPuffin:
    """Write ``blobs`` (zstd-compressed) to a new Puffin file at ``path``."""
    import zstandard

    compressor = zstandard.ZstdCompressor()
    body = bytearray(MAGIC)
    metadata = []
    for blob in blobs:
        data = compressor.compress(blob.payload)
        metadata.append(
            {
                "type": blob.type,
                "fields": blob.fields,
                "snapshot-id": blob.snapshot_id,
                "sequence-number": blob.sequence_number,
                "offset": len(body),
                "length": len(data),
                "compression-codec": "zstd",
                "properties": blob.properties,
            }
        )
        body += data
    payload = json.dumps(
        {"blobs": metadata, "properties": {"created-by": created_by}}, separators=(",", ":")
    ).encode()
    footer = MAGIC + payload + len(payload).to_bytes(4, "little") + bytes(4) + MAGIC
    body += footer
    with io.new_output(path).create(overwrite=False) as stream:
        stream.write(bytes(body))
    return WrittenPuffin(path, len(body), len(footer), metadata)
