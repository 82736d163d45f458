"""`PHLO_HOOKS`: Phlo's authorization and telemetry hooks, the ``phlo`` hook plugin.

Registered in ``pyproject.toml`` under the entry-point group ``phlo_lakehouse.hooks``;
`phlo_lakehouse.hooks.build_hooks` loads it when ``HookSettings.phlo`` is set. Phlo's
authorization is a guard (after our access control, before the tracer); its telemetry a reporter
(last: every run is reported, denied ones included).

Example:
    >>> from phlo_lakehouse.hooks import hook_plugin
    >>> hook_plugin("phlo") is PHLO_HOOKS
    True
"""

from __future__ import annotations

from phlo_lakehouse.hooks import HookPlugin
from phlo_lakehouse.phlo_adapter.authorization import PhloAuthorizationHook
from phlo_lakehouse.phlo_adapter.telemetry import PhloTelemetryHook

PHLO_HOOKS = HookPlugin(
    guards=lambda: [PhloAuthorizationHook()], reporters=lambda: [PhloTelemetryHook()]
)
