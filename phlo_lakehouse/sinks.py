"""Sinks never undo or fail upkeep: a metrics push, a telemetry event or an audit record that
cannot be written after an operation ran is a logged warning and a counted failure, never an
error for an operation that already committed.

`sink_failed` is what a sink's hook calls then: it logs a warning, adds the failure to the run's
result (``details["sink_failures"]``, so the CLI and Dagster show it) and records it for the
metrics pusher, which counts it in ``phlo_lakehouse_sink_failures_total{sink}`` (pushed with the
next push that gets through). Access control is the exception that proves the rule: with it on,
an unreachable audit store stops the operation *before* it mutates (see
`phlo_lakehouse.access.enforcement.AccessControlHook`).

Example:
    >>> from phlo_lakehouse.sinks import SINK_FAILURES_METRIC
    >>> SINK_FAILURES_METRIC
    'sink_failures_total'
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phlo_lakehouse.operations.executor import OperationContext

LOG = logging.getLogger("phlo_lakehouse.sinks")
#: The counter (in the provider's namespace) of sink writes that failed, by sink.
SINK_FAILURES_METRIC = "sink_failures_total"
_EXTRA = "sink_failures"


def sink_failed(context: OperationContext, sink: str, error: BaseException) -> str:
    """Record that ``sink`` ("pushgateway", "audit", "phlo_telemetry", …) could not be written
    for this run; returns the warning's text."""
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    message = (
        f"{sink} not written for {context.operation.name} of {context.subject}: "
        f"{type(error).__name__}: {text} (the operation itself is not affected)"
    )
    LOG.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    context.extras.setdefault(_EXTRA, []).append(sink)
    if context.result is not None:
        details = dict(context.result.details)
        details[_EXTRA] = [*details.get(_EXTRA, []), message]
        context.result = replace(context.result, details=details)
    return message


def sink_failures(context: OperationContext) -> list[str]:
    """The sinks that failed so far in this run (in order)."""
    return list(context.extras.get(_EXTRA, []))
