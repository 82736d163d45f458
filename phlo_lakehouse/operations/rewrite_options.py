"""Spark 1.10's ``rewrite_data_files`` options that `OptimizeOperation` takes, by the same names:
job order, partial-progress commit limits, the delete-file threshold, the starting sequence
number for rewritten files and removal of dangling deletes.

Example:
    >>> options = RewriteOptions(rewrite_job_order="bytes-desc", max_commits=2)
    >>> [len(batch) for batch in options.commit_batches(list(range(5)))]
    [3, 2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.units import FILE_SIZES, GROUP_SIZES, parse_size

T = TypeVar("T")
JOB_ORDERS = ("none", "bytes-asc", "bytes-desc", "files-asc", "files-desc")
#: Spark's partial-progress.max-commits default.
DEFAULT_MAX_COMMITS = 10


@dataclass(frozen=True)
class RewriteOptions:
    """Options of a compaction, validated when built (no I/O).

    Attributes:
        remove_dangling_deletes: also remove delete files that apply to no live data file, in
            the same commit (Spark's ``remove-dangling-deletes``; on by default here).
        rewrite_job_order: order file groups run and commit in: "none" (partition order),
            "bytes-asc", "bytes-desc", "files-asc", "files-desc".
        max_commits: with partial progress, the groups are committed in at most this many
            commits (Spark's ``partial-progress.max-commits``, default 10).
        max_failed_commits: with partial progress, how many commits may fail (a concurrent
            change) before the run fails; None: as many as ``max_commits``.
        delete_file_threshold: rewrite a data file once this many delete files apply to it
            (None: no such rule; the delete-ratio rule still applies).
        use_starting_sequence_number: rewritten files keep the data sequence number of the
            snapshot the compaction started from, so deletes committed meanwhile still apply
            to them (Spark's default); False gives them the commit's own number.
        output_spec_id: the partition spec rewritten files are written in (Spark's
            ``output-spec-id``); None: the table's current spec. Files of other specs are
            grouped together and their rows split by the output spec's partitions.
    """

    remove_dangling_deletes: bool = True
    rewrite_job_order: str = "none"
    max_commits: int = DEFAULT_MAX_COMMITS
    max_failed_commits: int | None = None
    delete_file_threshold: int | None = None
    use_starting_sequence_number: bool = True
    output_spec_id: int | None = None

    def __post_init__(self) -> None:
        if self.rewrite_job_order not in JOB_ORDERS:
            raise InvalidInput(
                f"rewrite_job_order={self.rewrite_job_order!r} is not supported",
                hint="use " + ", ".join(JOB_ORDERS),
            )
        _whole(self.max_commits, "max_commits", minimum=1)
        if self.max_failed_commits is not None:
            _whole(self.max_failed_commits, "max_failed_commits", minimum=0)
        if self.delete_file_threshold is not None:
            _whole(self.delete_file_threshold, "delete_file_threshold", minimum=1)
        if self.output_spec_id is not None:
            _whole(self.output_spec_id, "output_spec_id", minimum=0, example=1)
        for name in ("remove_dangling_deletes", "use_starting_sequence_number"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInput(f"{name} must be true or false", hint=f"{name}=True")

    @property
    def failures_allowed(self) -> int:
        return self.max_commits if self.max_failed_commits is None else self.max_failed_commits

    def order(self, groups: Sequence[Any]) -> list[Any]:
        """Groups (with ``input_bytes`` and ``files``) in `rewrite_job_order`."""
        if self.rewrite_job_order == "none":
            return list(groups)
        measure, direction = self.rewrite_job_order.split("-")

        def key(group: Any) -> int:
            return group.input_bytes if measure == "bytes" else len(group.files)

        return sorted(groups, key=key, reverse=direction == "desc")

    def commit_batches(self, groups: Sequence[T]) -> list[list[T]]:
        """``groups`` cut into at most `max_commits` consecutive batches of near-equal size."""
        if not groups:
            return []
        size = math.ceil(len(groups) / min(self.max_commits, len(groups)))
        return [list(groups[i : i + size]) for i in range(0, len(groups), size)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "remove_dangling_deletes": self.remove_dangling_deletes,
            "rewrite_job_order": self.rewrite_job_order,
            "max_commits": self.max_commits,
            "max_failed_commits": self.max_failed_commits,
            "delete_file_threshold": self.delete_file_threshold,
            "use_starting_sequence_number": self.use_starting_sequence_number,
            "output_spec_id": self.output_spec_id,
        }


def output_spec_id(table: Any, spec_id: int | None) -> int:
    """The partition spec a rewrite of ``table`` (a `LakehouseTable`) writes: ``spec_id``, else
    the table's current spec.

    Raises:
        InvalidInput: ``spec_id`` is not one of the table's specs.
    """
    metadata = table.table.metadata
    if spec_id is None:
        return metadata.default_spec_id
    if spec_id not in metadata.specs():
        raise InvalidInput(
            f"output_spec_id={spec_id} is not a partition spec of {table.identifier}",
            hint="its specs: " + ", ".join(str(s) for s in sorted(metadata.specs())),
        )
    return spec_id


def check_size_band(min_input_files: int, min_ratio: float, max_ratio: float) -> None:
    """Validate the size-band options every size-based rewrite takes (Iceberg's
    ``SizeBasedFileRewritePlanner``): files a group needs and the small/large ratios.

    Raises:
        InvalidInput: a value out of range.
    """
    _whole(min_input_files, "min_input_files", minimum=1, example=5)
    if not 0 < min_ratio < 1 < max_ratio:
        raise InvalidInput(
            "size ratios must satisfy 0 < min_file_size_ratio < 1 < max_file_size_ratio",
            hint="the defaults are 0.75 and 1.8",
        )


class SizeBand:
    """The size-based rewrite settings (`check_size_band`) that compaction and position-delete
    rewrites keep as attributes: ``target_file_size`` (None: the table's), ``min_input_files``,
    ``min_ratio``/``max_ratio`` of the target, ``max_group_bytes``."""

    target_file_size: int | None
    min_input_files: int
    min_ratio: float
    max_ratio: float
    max_group_bytes: int

    def set_size_band(
        self,
        target_file_size: int | str | None,
        min_input_files: int,
        min_file_size_ratio: float,
        max_file_size_ratio: float,
        max_file_group_size: int | str,
    ) -> None:
        """Validate and keep the settings (sizes as bytes or text such as "128MB").

        Raises:
            InvalidInput: a value out of range.
        """
        check_size_band(min_input_files, min_file_size_ratio, max_file_size_ratio)
        self.target_file_size = (
            parse_size(target_file_size, name="target_file_size", within=FILE_SIZES)
            if target_file_size is not None
            else None
        )
        self.min_input_files = min_input_files
        self.min_ratio = min_file_size_ratio
        self.max_ratio = max_file_size_ratio
        self.max_group_bytes = parse_size(
            max_file_group_size, name="max_file_group_size", within=GROUP_SIZES
        )


def _whole(value: Any, name: str, *, minimum: int, example: int = 10) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidInput(
            f"{name}={value!r} must be a whole number ≥ {minimum}", hint=f"e.g. {example}"
        )
