"""`GCSettings`: what one Nessie GC run is told to do (references, cutoffs, grace period,
prefix mismatches), validated on creation; and the figures every run reports.

Example:
    >>> GCSettings(older_than="7d").grace.days
    7
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.gc.cutoff import CutoffRules, compile_ref_regex
from phlo_lakehouse.gc.mark import READ_THREADS
from phlo_lakehouse.operations.orphans import check_grace, check_prefix_mismatch
from phlo_lakehouse.units import parse_duration

DEFAULT_OLDER_THAN = "3d"
#: Candidate paths a plan's details list (all of them are in the candidates file).
SHOWN_CANDIDATES = 1000
FIGURE_KEYS = (
    "refs_walked",
    "commits_walked",
    "live_commits",
    "live_contents",
    "metadata_files",
    "manifests_read",
    "live_files",
    "base_locations",
    "expired_tables",
    "files_listed",
    "too_young",
    "prefix_mismatches",
    "candidates",
    "candidate_bytes",
    "became_live",
    "deleted",
    "deleted_bytes",
    "delete_failures",
    "deferred",
)


@dataclass(frozen=True)
class GCSettings:
    """What one GC run does; validated on creation (no I/O).

    Args:
        ref_regex: references the GC collects garbage for (whole-name regular expression).
            References it does not select keep their whole history (cutoff ``NONE``).
        cutoffs: ``POLICY`` (the default for every selected reference) and ``REGEX=POLICY``
            rules; see `phlo_lakehouse.gc.cutoff`. Default ``NONE``.
        older_than: grace period: only files modified before ``creation time - older_than``
            are deleted ("3d", "P3D", seconds or a timedelta).
        force: allow ``older_than`` under 24 hours (no writer may be active).
        prefix_mismatch: "error" (default), "ignore" or "delete" (as vacuum).
        now: the reference time durations count back from, and the live set's creation time
            (default: when the plan starts).
        threads: files read or listed at the same time.
        work_dir: where the run's scratch store goes (default: the system temp directory).

    Example:
        >>> GCSettings(cutoffs=("P10D", "dev.*=5")).cutoffs
        ('P10D', 'dev.*=5')
    """

    ref_regex: str = ".*"
    cutoffs: tuple[str, ...] = ()
    older_than: str | int | timedelta = DEFAULT_OLDER_THAN
    force: bool = False
    prefix_mismatch: str = "error"
    now: datetime | None = None
    threads: int = READ_THREADS
    work_dir: str | None = None

    def __post_init__(self) -> None:
        cutoffs = (self.cutoffs,) if isinstance(self.cutoffs, str) else tuple(self.cutoffs or ())
        object.__setattr__(self, "cutoffs", cutoffs)
        compile_ref_regex(self.ref_regex)
        CutoffRules.parse(cutoffs, reference_time=datetime.now(UTC), name="cutoffs")
        check_grace(self.older_than, force=self.force, writer="commits still in flight", group=None)
        check_prefix_mismatch(self.prefix_mismatch, group=None)
        if self.now is not None and not isinstance(self.now, datetime):
            raise InvalidInput(f"now={self.now!r} is not a datetime", hint="pass a datetime")
        if self.now is not None and self.now.tzinfo is None:
            object.__setattr__(self, "now", self.now.replace(tzinfo=UTC))
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise InvalidInput(
                f"threads={self.threads!r} is not a whole number >= 1",
                hint=f"pass threads=1 or more (default {READ_THREADS})",
            )

    @property
    def grace(self) -> timedelta:
        return parse_duration(self.older_than, name="older_than")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (audit records, deferred files)."""
        return {
            "ref_regex": self.ref_regex,
            "cutoffs": list(self.cutoffs),
            "older_than_seconds": self.grace.total_seconds(),
            "force": self.force,
            "prefix_mismatch": self.prefix_mismatch,
            "now": self.now.isoformat() if self.now else None,
            "threads": self.threads,
        }
