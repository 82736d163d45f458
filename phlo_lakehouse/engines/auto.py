"""Choosing an engine: `AutoEngine` (local for small tables, Spark for large ones) and
`build_engine` (an engine from its name, as configuration spells it).

The size comes from the stats fast path (the ref's snapshot summary, O(1) in the number of
files), so choosing costs nothing next to the operation.

Example:
    >>> from phlo_lakehouse.engines import LocalEngine
    >>> from phlo_lakehouse.engines.spark import SparkEngine
    >>> auto = AutoEngine("10GB", SparkEngine(remote="sc://127.0.0.1:21051"), LocalEngine())
    >>> auto.name, auto.threshold_bytes
    ('auto', 10737418240)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.engines.base import Engine, LocalEngine
from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.units import format_size, parse_size

if TYPE_CHECKING:
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

ENGINE_KINDS = ("local", "spark", "auto")
DEFAULT_AUTO_THRESHOLD = "10GB"


class AutoEngine:
    """Runs an operation locally when the table is smaller than ``threshold_bytes``, on Spark
    otherwise; ``details["engine"]`` of each result names the engine that ran it and
    ``details["engine_choice"]`` why.

    A table whose snapshot summary has no size (written by an engine that keeps no totals) runs
    locally: the fast path cannot tell, and the local engine is correct at any size.

    Args:
        threshold_bytes: bytes or "10GB": data + delete file bytes from which Spark runs.
        spark_engine: the engine for large tables (usually a `SparkEngine`).
        local_engine: the engine for small tables (default `LocalEngine`).
    """

    name = "auto"

    def __init__(
        self,
        threshold_bytes: int | str,
        spark_engine: Engine,
        local_engine: Engine | None = None,
    ) -> None:
        self.threshold_bytes = parse_size(threshold_bytes, name="threshold_bytes")
        self.spark_engine = spark_engine
        self.local_engine = local_engine or LocalEngine()

    def choose(self, table: LakehouseTable) -> tuple[Engine, dict[str, Any]]:
        """The engine for ``table`` and the reason, from the stats fast path (O(1))."""
        from phlo_lakehouse.metadata import MetadataCollector

        size = MetadataCollector().collect(table).size_bytes
        reason: dict[str, Any] = {"size_bytes": size, "threshold_bytes": self.threshold_bytes}
        if size is None:
            return self.local_engine, {**reason, "rule": "size unknown: local"}
        if size < self.threshold_bytes:
            rule = f"{format_size(size)} < {format_size(self.threshold_bytes)}: local"
            return self.local_engine, {**reason, "rule": rule}
        rule = f"{format_size(size)} >= {format_size(self.threshold_bytes)}: spark"
        return self.spark_engine, {**reason, "rule": rule}

    def validate(self, operation: TableOperation) -> None:
        """Fail when ``operation`` has an option the Spark engine cannot express: any table may
        grow past the threshold, so such options fail for every table, not only for large ones.
        """
        validate = getattr(self.spark_engine, "validate", None)
        if validate is not None:
            validate(operation)

    def execute(
        self, operation: TableOperation, table: LakehouseTable, plan: OperationPlan
    ) -> OperationResult:
        """Execute ``plan`` on the engine `choose` picks for ``table``."""
        engine, reason = self.choose(table)
        result = engine.execute(operation, table, plan)
        return replace(
            result, details={**result.details, "engine": engine.name, "engine_choice": reason}
        )


def build_engine(
    kind: str,
    settings: CatalogSettings | None = None,
    *,
    spark_remote: str | None = None,
    spark_jars: Sequence[str] = (),
    auto_threshold: int | str = DEFAULT_AUTO_THRESHOLD,
) -> Engine:
    """The engine called ``kind`` ("local", "spark" or "auto"), without connecting.

    Args:
        kind: the engine's name.
        settings: the catalog the Spark engine configures Spark for.
        spark_remote: Spark Connect URL (``sc://host:port``); None starts local Spark.
        spark_jars: jars of a local Spark session.
        auto_threshold: the size from which "auto" runs on Spark.

    Raises:
        InvalidConfig: an unknown kind or malformed Spark settings.

    Example:
        >>> build_engine("local").name
        'local'
        >>> build_engine("auto", spark_remote="sc://127.0.0.1:21051", auto_threshold="1GB").name
        'auto'
    """
    if kind not in ENGINE_KINDS:
        raise InvalidConfig(
            f"engine {kind!r} is not known", hint=f"choose one of {', '.join(ENGINE_KINDS)}"
        )
    if kind == "local":
        return LocalEngine()
    from phlo_lakehouse.engines.spark import SparkEngine

    spark = SparkEngine(settings, remote=spark_remote, jars=spark_jars)
    return spark if kind == "spark" else AutoEngine(auto_threshold, spark, LocalEngine())
