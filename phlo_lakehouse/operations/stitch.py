"""Row-group stitching: compaction at the speed of copying bytes.

When the files of a compaction group need no decoding - no deletes to apply, the table's write
schema exactly (same Parquet schema and field ids), the table's compression codec, a plain
bin-pack (no sort or z-order) - their encoded row groups are copied byte for byte into
target-size files and each gets a new footer (`parquet_footer`): offsets rebased, page indexes
and bloom filters dropped. Apache Amoro does the same (``rewrite.use-parquet-row-group-merge``).
The Iceberg metrics of each output come from its footer, i.e. from the inputs' row-group
statistics, through the same PyIceberg function a normal write uses.

Modes (``OptimizeOperation(stitch=...)``, ``--stitch``, table property
``phlo-lakehouse.optimize.stitch``): ``auto`` (default) stitches a safe group whose row groups
are large enough to keep (average at least ``phlo-lakehouse.optimize.stitch-min-row-group-bytes``,
default 16 MiB: stitching tiny files would only make files of tiny row groups); ``always``
stitches every safe group; ``never`` always decodes. An unsafe group is decoded in every mode.

Example:
    >>> op = OptimizeOperation(stitch="always")                                 # doctest: +SKIP
    >>> OperationExecutor(lakehouse).run(op, "demo.events").details["stitched_groups"]
    ... # doctest: +SKIP
    4
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations.live_files import LiveFile
from phlo_lakehouse.operations.parquet_footer import (
    CODECS,
    Footer,
    FooterError,
    RowGroupSpan,
    encode_footer,
    read_footer,
    rebased_row_group,
    verify_footer,
)
from phlo_lakehouse.storage.listing import normalize_location

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

    from phlo_lakehouse.operations.file_groups import FileGroup

STITCH_MODES = ("auto", "always", "never")
STITCH_PROPERTY = "phlo-lakehouse.optimize.stitch"
MIN_ROW_GROUP_PROPERTY = "phlo-lakehouse.optimize.stitch-min-row-group-bytes"
MIN_ROW_GROUP_BYTES_DEFAULT = 16 * 1024 * 1024
COPY_CHUNK = 16 * 1024 * 1024


def stitch_mode(table: Table, requested: str | None) -> str:
    """The mode to use: ``requested``, else the table property, else ``auto``."""
    mode = requested or table.metadata.properties.get(STITCH_PROPERTY, "auto")
    if mode not in STITCH_MODES:
        where = "stitch" if requested else f"table property {STITCH_PROPERTY}"
        raise InvalidInput(
            f"{where}={mode!r} is not a stitch mode", hint="use auto, always or never"
        )
    return mode


@dataclass(frozen=True)
class StitchPlan:
    """The footers of a group's files, once stitching was found safe."""

    footers: tuple[Footer, ...]


def plan_stitch(
    table: Table,
    files: Sequence[LiveFile],
    has_deletes: bool,
    strategy: str,
    mode: str,
) -> tuple[StitchPlan | None, str]:
    """Whether the group of ``files`` can be stitched: ``(plan, "")`` or ``(None, reason)``."""
    from pyiceberg.manifest import FileFormat
    from pyiceberg.table import TableProperties

    if table.metadata.format_version >= 3:
        from phlo_lakehouse.operations.lineage import V3_DECODE_REASON

        return None, V3_DECODE_REASON
    if mode == "never":
        return None, "stitching disabled"
    if strategy != "binpack":
        return None, f"strategy {strategy} reorders rows"
    if has_deletes:
        return None, "deletes to apply"
    if any(f.data_file.file_format != FileFormat.PARQUET for f in files):
        return None, "not all files are Parquet"
    minimum = int(
        table.metadata.properties.get(MIN_ROW_GROUP_PROPERTY, MIN_ROW_GROUP_BYTES_DEFAULT)
    )
    too_small = f"row groups smaller than {minimum} bytes on average"
    sizes = [f.data_file.file_size_in_bytes for f in files]
    if mode == "auto" and sum(sizes) / len(sizes) < minimum:
        return None, too_small  # known from the manifests, before opening any file
    codec_name = table.metadata.properties.get(
        TableProperties.PARQUET_COMPRESSION, TableProperties.PARQUET_COMPRESSION_DEFAULT
    )
    codec = CODECS.get(str(codec_name).lower())
    footers = []
    for live in files:
        try:
            with _open(table, live.path) as stream:
                footers.append(read_footer(stream, live.data_file.file_size_in_bytes))
        except (FooterError, OSError) as e:
            return None, f"{live.path}: {e}"
    first = footers[0]
    if any(f.layout_key() != first.layout_key() for f in footers[1:]):
        return None, "Parquet schema, writer or key/value metadata differ between files"
    if not _is_write_schema(table, files[0]):
        return None, "files are not in the table's current write schema"
    if any(f.codecs != {codec} for f in footers):
        return None, f"files are not all compressed with the table's codec ({codec_name})"
    spans = [span for f in footers for span in f.row_groups]
    if mode == "auto" and (not spans or sum(s.length for s in spans) / len(spans) < minimum):
        return None, too_small
    if sum(s.num_rows for s in spans) != sum(f.data_file.record_count for f in files):
        return None, "footers and manifests disagree on the row count"
    return StitchPlan(tuple(footers)), ""


def _is_write_schema(table: Table, live: LiveFile) -> bool:
    import pyarrow.parquet as pq

    from phlo_lakehouse.operations.read import castable_schema, write_schema

    with _open(table, live.path) as stream:
        schema = pq.ParquetFile(stream).schema_arrow.remove_metadata()
    # Same field ids, names, nullability and Parquet types (string/large_string and UTC
    # spellings differ only in the Arrow schema hint, not in Parquet).
    target = write_schema(table)
    return schema.equals(target, check_metadata=True) or castable_schema(schema, target)


def stitch_group(
    table: Table, group: FileGroup, files: Sequence[LiveFile], plan: StitchPlan
) -> tuple[list[DataFile], int, list[str]]:
    """Copy the row groups of ``files`` into ``group.expected_output_files`` files; returns
    (data files, rows, paths written). On error every file written is deleted."""
    from pyiceberg.table.locations import load_location_provider

    from phlo_lakehouse.operations.rewrite import PartitionPath
    from phlo_lakehouse.storage.deletion import delete_files

    metadata = table.metadata
    locations = load_location_provider(metadata.location, metadata.properties)
    partition = files[0].data_file.partition
    partition_path = PartitionPath(table, group.spec_id, partition)
    write_uuid = uuid.uuid4()
    outputs = _split(files, plan.footers, max(1, group.expected_output_files))
    written: list[str] = []
    data_files = []
    try:
        for index, pieces in enumerate(outputs):
            name = f"{index:05d}-0-{write_uuid}.parquet"
            path = locations.new_data_location(name, partition_path)  # type: ignore[arg-type]
            written.append(path)
            data_files.append(_write_output(table, group, path, pieces, plan.footers[0]))
    except BaseException:
        delete_files(table.io, written)
        raise
    rows = sum(f.record_count for f in data_files)
    return data_files, rows, written


def _split(
    files: Sequence[LiveFile], footers: Sequence[Footer], outputs: int
) -> list[list[tuple[LiveFile, RowGroupSpan]]]:
    """Row groups (in file order) dealt into ``outputs`` files of about equal size."""
    pieces = [
        (f, span) for f, footer in zip(files, footers, strict=True) for span in footer.row_groups
    ]
    total = sum(span.length for _, span in pieces)
    share = total / outputs
    result: list[list[tuple[LiveFile, RowGroupSpan]]] = [[]]
    filled = 0
    for piece in pieces:
        if result[-1] and len(result) < outputs and filled + piece[1].length / 2 > share:
            result.append([])
            filled = 0
        result[-1].append(piece)
        filled += piece[1].length
    return [p for p in result if p]


def _write_output(
    table: Table,
    group: FileGroup,
    path: str,
    pieces: list[tuple[LiveFile, RowGroupSpan]],
    template: Footer,
) -> DataFile:
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.schema import sanitize_column_names

    from phlo_lakehouse.operations.parquet_footer import MAGIC

    row_groups = []
    with _Output(table, path) as out:
        out.write(MAGIC)
        for live, span in pieces:
            row_groups.append(rebased_row_group(span, out.position))
            out.copy_from(live.path, span.start, span.length)
        footer = encode_footer(template, row_groups)
        with _open(table, pieces[0][0].path) as stream:
            schema = pq.ParquetFile(stream).metadata.schema
        parsed = verify_footer(footer, schema, [span for _, span in pieces])
        out.write(footer)
        size = out.position
    file_schema = sanitize_column_names(table.metadata.schema())
    statistics = data_file_statistics_from_parquet_metadata(
        parsed,
        compute_statistics_plan(file_schema, table.metadata.properties),
        parquet_path_to_id_mapping(file_schema),
    )
    data_file = DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=pieces[0][0].data_file.partition,
        file_size_in_bytes=size,
        sort_order_id=None,
        spec_id=group.spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )
    data_file.spec_id = group.spec_id  # not a from_args field in PyIceberg 0.12
    return data_file


def _local(path: str) -> str | None:
    scheme, _, local = normalize_location(path)
    return local if scheme == "file" else None


def _open(table: Table, path: str) -> Any:
    local = _local(path)
    if local is not None:
        return open(local, "rb")
    return table.io.new_input(path).open(seekable=True)


class _Output:
    """A new file written in order; local inputs are copied in the kernel (copy_file_range)."""

    def __init__(self, table: Table, path: str) -> None:
        self.table = table
        self.local = _local(path)
        self.position = 0
        self._fd: int | None = None
        self._stream: Any = None
        self._path = path

    def __enter__(self) -> _Output:
        if self.local is not None:
            os.makedirs(os.path.dirname(self.local), exist_ok=True)
            self._fd = os.open(self.local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        else:
            self._stream = self.table.io.new_output(self._path).create(overwrite=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
        elif self._stream is not None:
            self._stream.close()

    def write(self, data: bytes) -> None:
        if self._fd is not None:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        else:
            self._stream.write(data)
        self.position += len(data)

    def copy_from(self, path: str, start: int, length: int) -> None:
        """Append bytes ``[start, start + length)`` of ``path``."""
        source = _local(path)
        if self._fd is not None and source is not None:
            with open(source, "rb") as f:
                _copy_range(f.fileno(), self._fd, start, length)
            self.position += length
            return
        with _open(self.table, path) as stream:
            stream.seek(start)
            left = length
            while left:
                chunk = stream.read(min(COPY_CHUNK, left))
                if not chunk:
                    raise OSError(f"{path} ended before byte {start + length}")
                left -= len(chunk)
                self.write(chunk)


def _copy_range(src: int, dst: int, start: int, length: int) -> None:
    offset, left = start, length
    while left:
        try:
            copied = os.copy_file_range(src, dst, left, offset)
        except OSError:  # e.g. across file systems on old kernels: copy through user space
            chunk = memoryview(os.pread(src, min(COPY_CHUNK, left), offset))
            copied = len(chunk)
            while chunk:
                chunk = chunk[os.write(dst, chunk) :]
        if copied == 0:
            raise OSError(f"source ended before byte {start + length}")
        offset += copied
        left -= copied
