"""Observability: every operation measured the same way, whichever entry point ran it.

`OperationTracer` is an execution hook of the single executor: it times each run and hands the
outcome (operation, table, status, duration, figures) to an `ObservabilityProvider`.
`PrometheusObservability` keeps its own registry (never the global one) with:

- ``phlo_lakehouse_operations_total{operation,status}`` and
  ``phlo_lakehouse_operation_duration_seconds{operation,status}``;
- ``phlo_lakehouse_files_rewritten_total``, ``phlo_lakehouse_bytes_rewritten_total``,
  ``phlo_lakehouse_files_deleted_total``, ``phlo_lakehouse_bytes_deleted_total`` by operation;
- table health gauges by table: ``phlo_lakehouse_table_data_files``,
  ``phlo_lakehouse_table_small_files``, ``phlo_lakehouse_table_snapshots``,
  ``phlo_lakehouse_table_delete_files``, ``phlo_lakehouse_table_size_bytes``,
  ``phlo_lakehouse_table_rows``.

Batch runs `push` to a Pushgateway; a long-running process can `serve` an HTTP endpoint.

Example:
    >>> metrics = PrometheusObservability()
    >>> lakehouse = IcebergLakehouse(settings, hooks=[OperationTracer(metrics)])  # doctest: +SKIP
    >>> lakehouse.optimize_table("demo.events")                                   # doctest: +SKIP
    >>> metrics.push("http://127.0.0.1:9091", job="nightly_maintenance")          # doctest: +SKIP
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import AccessDenied, Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from phlo_lakehouse.metadata import TableMetadata
    from phlo_lakehouse.operations.executor import OperationContext

#: Figures that count rewritten or deleted files/bytes, per operation.
_REWRITTEN_FILES = {"optimize": "files_to_rewrite", "rewrite_manifests": "manifests_to_rewrite"}
_REWRITTEN_BYTES = {"optimize": "bytes_to_rewrite"}
_DELETED_FILES = {
    "vacuum": ("orphan_files",),
    "expire": (
        "data_files_to_delete",
        "delete_files_to_delete",
        "manifests_to_delete",
        "manifest_lists_to_delete",
        "statistics_files_to_delete",
    ),
}
_DELETED_BYTES = {"vacuum": "orphan_bytes"}


class ObservabilityProvider(ABC):
    """Where operation outcomes and table health go."""

    @abstractmethod
    def record_operation(
        self,
        *,
        operation: str,
        table: str,
        status: str,
        duration_seconds: float,
        figures: Mapping[str, Any],
    ) -> None:
        """One finished run: status is success, dry_run, conflict, denied, invalid, not_found
        or failed."""

    @abstractmethod
    def increment(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Add ``value`` to counter ``name``."""

    @abstractmethod
    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        """Set gauge ``name``."""

    def record_table_health(self, stats: TableMetadata) -> None:
        """Table health gauges from a stats collection (figures it does not know are skipped)."""
        table = stats.identifier
        for name, value in (
            ("table_data_files", stats.file_count),
            ("table_small_files", stats.small_file_count),
            ("table_snapshots", stats.snapshot_count),
            ("table_delete_files", stats.delete_file_count),
            ("table_size_bytes", stats.size_bytes),
            ("table_rows", stats.row_count),
        ):
            if value is not None:
                self.set_gauge(name, float(value), table=table)


class OperationTracer:
    """The executor hook that measures every operation and reports it to ``provider``.

    Args:
        provider: where outcomes go.
        lakehouse: when given, table health gauges are refreshed (O(1) stats) after each
            committed operation.
    """

    def __init__(self, provider: ObservabilityProvider, lakehouse: Any = None) -> None:
        self.provider = provider
        self.lakehouse = lakehouse

    @contextmanager
    def span(self, operation: str, table: str) -> Iterator[dict[str, Any]]:
        """Time a block; set ``span["status"]`` and ``span["figures"]`` inside it.

        Example:
            >>> tracer = OperationTracer(PrometheusObservability())
            >>> with tracer.span("custom", "raw.events") as span:
            ...     span["figures"] = {"files_to_rewrite": 3}
        """
        span: dict[str, Any] = {"status": "success", "figures": {}}
        started = time.perf_counter()
        try:
            yield span
        except BaseException as error:
            span["status"] = status_of(error)
            raise
        finally:
            self.provider.record_operation(
                operation=operation,
                table=table,
                status=span["status"],
                duration_seconds=time.perf_counter() - started,
                figures=span["figures"],
            )

    # -- ExecutionHook ------------------------------------------------------------------------

    def before_plan(self, context: OperationContext) -> None:
        context.timings.setdefault("traced_since", time.perf_counter())

    def after(self, context: OperationContext) -> None:
        result = context.result
        assert result is not None
        status = "dry_run" if result.dry_run else ("success" if result.committed else "no_change")
        deleted = _FILES_DELETED.get(result.operation)
        if not result.dry_run and deleted and result.figures.get(deleted):
            status = "success"  # deleting files is its change: no commit to count
        self.provider.record_operation(
            operation=result.operation,
            table=context.subject,
            status=status,
            duration_seconds=result.duration_seconds,
            figures=result.figures,
        )
        if self.lakehouse is not None and status == "success" and context.identifier is not None:
            self.provider.record_table_health(
                self.lakehouse.collect_stats(context.identifier, context.ref)
            )

    def on_error(self, context: OperationContext, error: BaseException) -> None:
        started = context.timings.get("traced_since")
        self.provider.record_operation(
            operation=context.operation.name,
            table=context.subject,
            status=status_of(error),
            duration_seconds=(time.perf_counter() - started) if started else 0.0,
            figures={},
        )


class MetricsPusher:
    """The executor hook that pushes ``provider``'s metrics to a Pushgateway after every run,
    failed ones included (batch processes — CLI commands, Dagster runs — end before a scrape).

    Put it first in the hook list so that it runs last, after the tracer has recorded the run.

    Example:
        >>> pusher = MetricsPusher(PrometheusObservability(), "http://127.0.0.1:9091")
        >>> pusher.job
        'phlo_lakehouse'
    """

    def __init__(
        self, provider: PrometheusObservability, gateway: str, job: str = "phlo_lakehouse"
    ) -> None:
        self.provider = provider
        self.gateway = gateway
        self.job = job

    def before_plan(self, context: OperationContext) -> None:
        """Nothing to do before planning."""

    def after(self, context: OperationContext) -> None:
        """Push after a successful run (a failed push is a warning, never an error)."""
        self._push(context)

    def on_error(self, context: OperationContext, error: BaseException) -> None:
        """Push after a failed run."""
        self._push(context)

    def _push(self, context: OperationContext) -> None:
        from phlo_lakehouse.sinks import SINK_FAILURES_METRIC, sink_failed, sink_failures

        for sink in sink_failures(context):
            self.provider.increment(SINK_FAILURES_METRIC, sink=sink)
        try:
            self.provider.push(self.gateway, job=self.job)
        except Exception as error:  # noqa: BLE001 - a sink never fails the operation
            sink_failed(context, "pushgateway", error)
            # Counted now, pushed by the next push that gets through.
            self.provider.increment(SINK_FAILURES_METRIC, sink="pushgateway")


#: Operations whose change is deleting files, not a commit: the figure that counts what they
#: deleted (a run that deleted any is a success, one that deleted none "no_change").
_FILES_DELETED = {"vacuum": "orphan_files", "nessie_gc": "deleted", "nessie_gc_apply": "deleted"}


def status_of(error: BaseException) -> str:
    """The status label of a failed run."""
    if isinstance(error, AccessDenied):
        return "denied"
    if isinstance(error, Conflict):
        return "conflict"
    if isinstance(error, InvalidInput):
        return "invalid"
    if isinstance(error, NotFound):
        return "not_found"
    return "failed"


class PrometheusObservability(ObservabilityProvider):
    """Prometheus metrics in a registry of their own.

    Args:
        namespace: metric name prefix (default ``phlo_lakehouse``).
    """

    def __init__(self, namespace: str = "phlo_lakehouse") -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.namespace = namespace
        self._counters: dict[str, Any] = {}
        self._gauges: dict[str, Any] = {}
        self._Counter, self._Gauge = Counter, Gauge
        self.operations = Counter(
            "operations",
            "Lakehouse operations run, by operation and outcome.",
            ["operation", "status"],
            namespace=namespace,
            registry=self.registry,
        )
        self.duration = Histogram(
            "operation_duration_seconds",
            "Wall time of lakehouse operations.",
            ["operation", "status"],
            namespace=namespace,
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
        )
        for name, doc in (
            ("files_rewritten", "Data files (or manifests) rewritten by maintenance."),
            ("bytes_rewritten", "Bytes of data files rewritten by compaction."),
            ("files_deleted", "Files deleted by snapshot expiry and vacuum."),
            ("bytes_deleted", "Bytes of orphan files deleted by vacuum."),
        ):
            self._counters[name] = Counter(
                name, doc, ["operation"], namespace=namespace, registry=self.registry
            )
        for name, doc in (
            ("table_data_files", "Live data files of the table."),
            ("table_small_files", "Live data files under 75% of the target size."),
            ("table_snapshots", "Snapshots in the table metadata."),
            ("table_delete_files", "Live delete files of the table."),
            ("table_size_bytes", "Bytes of live data and delete files."),
            ("table_rows", "Records in live data files."),
        ):
            self._gauges[name] = Gauge(
                name, doc, ["table"], namespace=namespace, registry=self.registry
            )

    def record_operation(
        self,
        *,
        operation: str,
        table: str,
        status: str,
        duration_seconds: float,
        figures: Mapping[str, Any],
    ) -> None:
        self.operations.labels(operation=operation, status=status).inc()
        self.duration.labels(operation=operation, status=status).observe(duration_seconds)
        if status != "success":
            return
        amounts = {
            "files_rewritten": figures.get(_REWRITTEN_FILES.get(operation, ""), 0),
            "bytes_rewritten": figures.get(_REWRITTEN_BYTES.get(operation, ""), 0),
            "files_deleted": sum(figures.get(k) or 0 for k in _DELETED_FILES.get(operation, ())),
            "bytes_deleted": figures.get(_DELETED_BYTES.get(operation, ""), 0),
        }
        for name, amount in amounts.items():
            if amount:
                self.increment(name, float(amount), operation=operation)

    def increment(self, name: str, value: float = 1.0, **labels: str) -> None:
        self._metric(self._counters, self._Counter, name, labels).inc(value)

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        self._metric(self._gauges, self._Gauge, name, labels).set(value)

    def _metric(self, known: dict[str, Any], kind: Any, name: str, labels: dict[str, str]) -> Any:
        metric = known.get(name)
        if metric is None:
            metric = known[name] = kind(
                name,
                name.replace("_", " "),
                sorted(labels),
                namespace=self.namespace,
                registry=self.registry,
            )
        return metric.labels(**labels) if labels else metric

    def exposition(self) -> str:
        """The metrics in Prometheus text format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

    def push(
        self,
        gateway: str,
        *,
        job: str = "phlo_lakehouse",
        grouping_key: Mapping[str, str] | None = None,
    ) -> None:
        """Push every metric to a Pushgateway (replacing the job's group)."""
        from prometheus_client import push_to_gateway

        push_to_gateway(
            gateway, job=job, registry=self.registry, grouping_key=dict(grouping_key or {})
        )

    def serve(self, port: int, addr: str = "127.0.0.1") -> Any:
        """Expose ``/metrics`` over HTTP from this process (for long-running processes)."""
        from prometheus_client import start_http_server

        return start_http_server(port, addr=addr, registry=self.registry)
