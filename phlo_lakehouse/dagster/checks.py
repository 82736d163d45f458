"""Asset checks that report table statistics on the tables' own asset keys.

Each check reports the table's figures as metadata (``dagster/row_count``, files, bytes, small-file
ratio, snapshots, delete files, age of the last commit) and passes unless a threshold is
exceeded, in which case it fails with ``WARN`` severity — a prompt for maintenance, not a broken
asset. A table that cannot be found fails with ``ERROR``.

Example:
    >>> thresholds = StatsThresholds(max_snapshots=50)
    >>> checks = table_stats_checks(tables=["raw.events"], thresholds=thresholds)
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.resources import LakehouseResource
from phlo_lakehouse.dagster.table_checks import per_table_checks
from phlo_lakehouse.dagster.translator import LakehouseTranslator
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.units import format_size, parse_duration

CHECK_NAME = "lakehouse_table_stats"


@dataclass(frozen=True)
class StatsThresholds:
    """Past these, a stats check warns (None turns a threshold off).

    Attributes:
        max_small_file_ratio: share of data files under 75% of the target size.
        max_snapshots: snapshots in the table metadata.
        max_delete_files: live delete files (merge-on-read debt).
        max_commit_age: oldest acceptable last commit, e.g. "2d" (staleness).
        min_small_files: small-file ratio is only judged with at least this many files.
    """

    max_small_file_ratio: float | None = 0.5
    max_snapshots: int | None = 100
    max_delete_files: int | None = 50
    max_commit_age: str | None = None
    min_small_files: int = 5

    def violations(self, stats: Any, now: datetime) -> list[str]:
        """What is past a threshold, one line each."""
        found = []
        ratio = stats.small_file_ratio
        if (
            self.max_small_file_ratio is not None
            and ratio is not None
            and (stats.small_file_count or 0) >= self.min_small_files
            and ratio > self.max_small_file_ratio
        ):
            found.append(f"small-file ratio {ratio:.2f} > {self.max_small_file_ratio}")
        if self.max_snapshots is not None and stats.snapshot_count > self.max_snapshots:
            found.append(f"{stats.snapshot_count} snapshots > {self.max_snapshots}")
        deletes = stats.delete_file_count or 0
        if self.max_delete_files is not None and deletes > self.max_delete_files:
            found.append(f"{deletes} delete files > {self.max_delete_files}")
        if self.max_commit_age is not None and stats.last_modified is not None:
            age = now - stats.last_modified
            if age > parse_duration(self.max_commit_age, name="max_commit_age"):
                found.append(f"last commit {age} ago > {self.max_commit_age}")
        return found


def table_stats_checks(
    *,
    tables: Sequence[str],
    thresholds: StatsThresholds | None = None,
    translator: LakehouseTranslator | None = None,
    resource_key: str = "lakehouse",
    ref: str | None = None,
    full: bool = True,
    name: str = CHECK_NAME,
    automation_condition: dg.AutomationCondition | None = None,
) -> list[dg.AssetChecksDefinition]:
    """One stats check per table, on ``translator.get_asset_key(table)``.

    Args:
        tables: table identifiers (checks need their asset keys at definition time, so no
            wildcards; definitions still do no I/O).
        thresholds: when to warn.
        translator: table → asset key (default ``AssetKey([*namespace, table])``).
        resource_key: key of the `LakehouseResource`.
        ref: ref to report on.
        full: read manifests (small-file ratio, partitions); False uses the O(1) summary only.
        name: the check name on each asset.
        automation_condition: when Dagster's automation sensor runs the checks, e.g.
            `phlo_lakehouse.dagster.automation.check_on_cron` (None: only when launched).
    """
    thresholds = thresholds or StatsThresholds()
    if thresholds.max_commit_age is not None:
        parse_duration(thresholds.max_commit_age, name="max_commit_age")

    def evaluate(
        lakehouse: LakehouseResource, ident: TableIdentifier, key: dg.AssetKey
    ) -> dg.AssetCheckResult:
        stats = lakehouse.collect_stats(ident, ref, full=full)
        now = datetime.now(UTC)
        problems = thresholds.violations(stats, now)
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=not problems,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=_check_metadata(stats, now, problems),
        )

    return per_table_checks(
        name=name,
        tables=tables,
        translator=translator,
        resource_key=resource_key,
        description="Lakehouse table statistics",
        evaluate=evaluate,
        automation_condition=automation_condition,
    )


def _check_metadata(stats: Any, now: datetime, problems: list[str]) -> dict[str, Any]:
    age_hours = (
        round((now - stats.last_modified).total_seconds() / 3600, 3)
        if stats.last_modified
        else None
    )
    figures = {
        "dagster/row_count": stats.row_count,
        "file_count": stats.file_count,
        "size_bytes": stats.size_bytes,
        "size": format_size(stats.size_bytes) if stats.size_bytes is not None else None,
        "small_file_count": stats.small_file_count,
        "small_file_ratio": stats.small_file_ratio,
        "snapshot_count": stats.snapshot_count,
        "delete_file_count": stats.delete_file_count,
        "partition_count": stats.partition_count,
        "last_commit_age_hours": age_hours,
        "ref": stats.ref,
        "violations": "; ".join(problems) or "none",
    }
    return {k: v for k, v in figures.items() if v is not None}
