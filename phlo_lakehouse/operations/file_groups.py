"""`FileGroup`: the data files of one partition a compaction rewrites together, and how many
target-size files they make (Iceberg's ``SizeBasedFileRewritePlanner`` rules); `DeleteGroup`:
the same for position delete files; `pack_by_size` packs files into groups.

Groups travel inside plans (``details["groups"]``) as JSON, so a plan made in one process can
be executed, group by group, in others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FileGroup:
    """Data files of one partition rewritten together (and committed together in partial mode)."""

    group_id: int
    spec_id: int
    partition: tuple
    files: tuple[str, ...]
    delete_files: tuple[str, ...]
    input_bytes: int
    input_records: int
    expected_output_files: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "spec_id": self.spec_id,
            "partition": [json_value(v) for v in self.partition],
            "files": list(self.files),
            "delete_files": list(self.delete_files),
            "input_bytes": self.input_bytes,
            "input_records": self.input_records,
            "expected_output_files": self.expected_output_files,
        }


@dataclass(frozen=True)
class DeleteGroup:
    """Position delete files of one partition rewritten together (JSON-ready in plans)."""

    group_id: int
    spec_id: int
    partition: tuple
    files: tuple[str, ...]
    input_bytes: int
    input_records: int
    #: the highest data sequence number of ``files``: the new files' number
    sequence_number: int
    expected_output_files: int

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: getattr(self, k) for k in self.__dataclass_fields__},
            "partition": [json_value(v) for v in self.partition],
            "files": list(self.files),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeleteGroup:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(
            **{**values, "partition": tuple(values["partition"]), "files": tuple(data["files"])}
        )


def output_file_count(input_bytes: int, target: int, max_ratio: float) -> int:
    """Iceberg's SizeBasedFileRewritePlanner.numOutputFiles."""
    if input_bytes < target:
        return 1
    with_remainder = math.ceil(input_bytes / target)
    without_remainder = input_bytes // target
    if input_bytes % target > 0.75 * target:
        return with_remainder
    if input_bytes / without_remainder < min(1.1 * target, max_ratio * target):
        return without_remainder
    return with_remainder


def pack_by_size(items: Sequence[T], size_of: Callable[[T], int], max_bytes: int) -> list[list[T]]:
    """``items`` in order, cut into consecutive bins of at most ``max_bytes`` (an item larger
    than that gets a bin of its own).

    Example:
        >>> pack_by_size([5, 5, 5, 20, 1], lambda n: n, 10)
        [[5, 5], [5], [20], [1]]
    """
    bins: list[list[T]] = []
    current: list[T] = []
    size = 0
    for item in items:
        item_size = size_of(item)
        if current and size + item_size > max_bytes:
            bins.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        bins.append(current)
    return bins


def group_from_dict(data: dict[str, Any]) -> FileGroup:
    return FileGroup(
        group_id=data["group_id"],
        spec_id=data["spec_id"],
        partition=tuple(data["partition"]),
        files=tuple(data["files"]),
        delete_files=tuple(data["delete_files"]),
        input_bytes=data["input_bytes"],
        input_records=data["input_records"],
        expected_output_files=data["expected_output_files"],
    )


def json_value(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)
