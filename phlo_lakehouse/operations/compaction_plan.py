"""Which files a compaction rewrites and how it groups them, by Iceberg's
``SizeBasedFileRewritePlanner`` rules: files outside the size band around the target (or with
too many deletes) are candidates, packed in path order into groups of at most
``max-file-group-size-bytes``, each kept when rewriting it pays.

Example:
    >>> pack_groups([], max_group_bytes=1 << 30)
    []
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from phlo_lakehouse.operations.file_groups import FileGroup, output_file_count, pack_by_size

if TYPE_CHECKING:
    from phlo_lakehouse.operations.live_files import LiveFile
    from phlo_lakehouse.operations.rewrite_options import RewriteOptions


class CompactionOptions(Protocol):
    """The options selection reads (an `OptimizeOperation` has them)."""

    rewrite_all: bool
    min_ratio: float
    max_ratio: float
    delete_ratio: float
    min_input_files: int
    #: Spark's rewrite options (``delete_file_threshold``).
    options: RewriteOptions


def select_files(
    files: list[tuple[LiveFile, list[LiveFile]]], target: int, options: CompactionOptions
) -> list[tuple[LiveFile, list[LiveFile]]]:
    """The files worth rewriting: outside the size band around ``target``, or carrying too
    many deletes (every file with ``rewrite_all``)."""
    if options.rewrite_all:
        return files
    low, high = options.min_ratio * target, options.max_ratio * target
    from pyiceberg.manifest import DataFileContent

    chosen = []
    for data, deletes in files:
        size = data.data_file.file_size_in_bytes
        positional = [d for d in deletes if d.data_file.content == DataFileContent.POSITION_DELETES]
        deleted = sum(d.data_file.record_count for d in positional)
        # Equality deletes cost every reader a join: always worth folding in.
        too_many_deletes = bool(deletes) and (
            len(positional) < len(deletes)
            or deleted >= options.delete_ratio * max(1, data.data_file.record_count)
        )
        threshold = options.options.delete_file_threshold
        if threshold is not None and len(deletes) >= threshold:
            too_many_deletes = True
        if size < low or size > high or too_many_deletes:
            chosen.append((data, deletes))
    return chosen


def pack_groups(
    files: list[tuple[LiveFile, list[LiveFile]]], max_group_bytes: int
) -> list[list[tuple[LiveFile, list[LiveFile]]]]:
    """``files`` in path order, cut into bins of at most ``max_group_bytes``."""
    ordered = sorted(files, key=lambda f: f[0].path)
    return pack_by_size(ordered, lambda f: f[0].data_file.file_size_in_bytes, max_group_bytes)


def worth_rewriting(
    files: list[tuple[LiveFile, list[LiveFile]]], target: int, options: CompactionOptions
) -> bool:
    """True when rewriting the group pays: enough files, enough content, a too-large file or
    deletes to fold in."""
    if not files:
        return False
    if options.rewrite_all:
        return True
    total = sum(f.data_file.file_size_in_bytes for f, _ in files)
    enough_files = len(files) > 1 and len(files) >= options.min_input_files
    enough_content = len(files) > 1 and total > target
    too_large = any(f.data_file.file_size_in_bytes > options.max_ratio * target for f, _ in files)
    has_deletes = any(deletes for _, deletes in files)
    return enough_files or enough_content or too_large or has_deletes


def file_group(
    group_id: int,
    key: tuple,
    files: list[tuple[LiveFile, list[LiveFile]]],
    target: int,
    max_ratio: float,
) -> FileGroup:
    """The `FileGroup` of ``files`` (``key``: spec id and partition)."""
    size = sum(f.data_file.file_size_in_bytes for f, _ in files)
    return FileGroup(
        group_id=group_id,
        spec_id=key[0],
        partition=key[1],
        files=tuple(f.path for f, _ in files),
        delete_files=tuple(sorted({d.path for _, ds in files for d in ds})),
        input_bytes=size,
        input_records=sum(f.data_file.record_count for f, _ in files),
        expected_output_files=output_file_count(size, target, max_ratio),
    )
