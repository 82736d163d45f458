"""The one place the executor's hook set is built, for the Python API, the CLI and Dagster.

`HookSettings` says which guarantees a lakehouse runs with (access control and audit, metrics
and where they are pushed); `build_hooks` turns them into the ordered list of execution hooks.
The CLI reads the settings from the environment (`HookSettings.from_env`), the Dagster
`LakehouseResource` from its fields, Python code passes them explicitly — all three then get the
same hooks in the same order, so an operation is checked, audited and measured the same way
whichever entry point ran it.

Order matters: ``before_plan`` hooks run in list order, ``after``/``on_error`` in reverse. The
list is: the metrics pusher (first, so it pushes last, after everything was recorded), the access
control and audit hook (before planning: a denied run plans nothing), the plugin's guards
(Phlo's authorization), the tracer, the plugin's reporters (Phlo's telemetry).

Hooks that live above this layer come from a `HookPlugin` registered under the entry-point group
``phlo_lakehouse.hooks`` (`HOOK_PLUGINS_GROUP`); ``HookSettings.phlo`` turns on the one named
``phlo`` (`phlo_lakehouse.phlo_adapter.hooks.PHLO_HOOKS`, declared in ``pyproject.toml``). So the
composition root never imports an adapter (the layer contract in ``pyproject.toml`` has no
exceptions).

To add a hook of ours (e.g. a telemetry sink): give `HookSettings` a field (and, when the CLI
should honour it, an environment variable in `from_env`), then append the hook in `build_hooks`
at the position its ordering needs, with a comment saying why it sits there.

Example:
    >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    >>> lakehouse = IcebergLakehouse(CatalogSettings.embedded("/tmp/phlo-doc"))
    >>> lakehouse.hooks = build_hooks(HookSettings(access_control=True, home="/tmp/phlo-doc"),
    ...                               lakehouse)
    >>> [type(h).__name__ for h in lakehouse.hooks]
    ['AccessControlHook']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import InvalidConfig

if TYPE_CHECKING:
    from phlo_lakehouse.observability import ObservabilityProvider
    from phlo_lakehouse.operations.base import CatalogSource
    from phlo_lakehouse.operations.executor import ExecutionHook

ACCESS_CONTROL_ENV = "PHLO_LAKEHOUSE_ACCESS_CONTROL"
ACCESS_DB_ENV = "PHLO_LAKEHOUSE_ACCESS_DB"
AUDIT_SECRET_ENV = "PHLO_LAKEHOUSE_AUDIT_SECRET"
PUSHGATEWAY_ENV = "PHLO_LAKEHOUSE_PUSHGATEWAY_URL"
METRICS_JOB_ENV = "PHLO_LAKEHOUSE_METRICS_JOB"
UNDER_PHLO_ENV = "PHLO_LAKEHOUSE_UNDER_PHLO"
#: The entry-point group whose entries name `HookPlugin` objects (``HookSettings.phlo``: ``phlo``).
HOOK_PLUGINS_GROUP = "phlo_lakehouse.hooks"
_TRUE = ("1", "true", "yes", "on")


def _no_hooks() -> list[ExecutionHook]:
    return []


@dataclass(frozen=True)
class HookPlugin:
    """Execution hooks an installed package adds to every hook set `build_hooks` makes.

    Attributes:
        guards: make the hooks that decide too: they run after our access control (both must
            allow, and our audit records the attempt either way) and before the tracer.
        reporters: make the hooks that report every run, denied ones included: they run last.

    Example:
        >>> HookPlugin().guards()
        []
    """

    guards: Callable[[], list[ExecutionHook]] = field(default=_no_hooks)
    reporters: Callable[[], list[ExecutionHook]] = field(default=_no_hooks)


def hook_plugin(name: str) -> HookPlugin:
    """The `HookPlugin` registered as ``name`` in the ``phlo_lakehouse.hooks`` entry points.

    Raises:
        InvalidConfig: no such plugin is installed, or its entry point is not a `HookPlugin`.

    Example:
        >>> type(hook_plugin("phlo")).__name__
        'HookPlugin'
    """
    found = entry_points(group=HOOK_PLUGINS_GROUP, name=name)
    if not found:
        raise InvalidConfig(
            f"no hook plugin {name!r} is installed (entry-point group {HOOK_PLUGINS_GROUP})",
            hint="reinstall phlo-lakehouse with its metadata (pip install 'phlo-lakehouse[phlo]')",
        )
    plugin = next(iter(found)).load()
    if not isinstance(plugin, HookPlugin):
        raise InvalidConfig(
            f"hook plugin {name!r} is a {type(plugin).__name__}, not a HookPlugin",
            hint=f"point its {HOOK_PLUGINS_GROUP} entry point at a HookPlugin object",
        )
    return plugin


@dataclass(frozen=True)
class HookSettings:
    """Which guarantees operations run with.

    Attributes:
        access_control: check every operation against the access policies (default deny) and
            write every attempt to the audit log.
        access_db_url: SQLAlchemy URL of the policy and audit store (default:
            ``sqlite:///<home>/access.db``).
        audit_secret: HMAC key of the audit chain.
        pushgateway_url: Prometheus Pushgateway that operation metrics are pushed to after
            every operation (None: no metrics are recorded).
        metrics_job: the Pushgateway job label.
        home: the embedded lakehouse directory (where the default access store lives);
            default ``PHLO_LAKEHOUSE_HOME`` or ``.lakehouse``.
        phlo: running under Phlo: every operation is reported to Phlo's maintenance telemetry
            and, when Phlo enforces authorization, decided by Phlo's authorization policy
            backend too (needs the ``phlo`` package). On for Phlo's own entry points (``phlo
            lakehouse``, the provider plugin, the phlo-dagster extension).

    Example:
        >>> HookSettings.from_env({"PHLO_LAKEHOUSE_ACCESS_CONTROL": "true"}).access_control
        True
    """

    access_control: bool = False
    access_db_url: str | None = None
    audit_secret: str | None = None
    pushgateway_url: str | None = None
    metrics_job: str = "phlo_lakehouse"
    home: str | None = None
    phlo: bool = False

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, home: str | None = None
    ) -> HookSettings:
        """Settings from ``PHLO_LAKEHOUSE_ACCESS_CONTROL``, ``PHLO_LAKEHOUSE_ACCESS_DB``,
        ``PHLO_LAKEHOUSE_AUDIT_SECRET``, ``PHLO_LAKEHOUSE_PUSHGATEWAY_URL``,
        ``PHLO_LAKEHOUSE_METRICS_JOB`` and ``PHLO_LAKEHOUSE_UNDER_PHLO`` (what the CLI honours).

        Example:
            >>> HookSettings.from_env({}).access_control
            False
        """
        env = os.environ if env is None else env
        return cls(
            access_control=env.get(ACCESS_CONTROL_ENV, "").strip().lower() in _TRUE,
            access_db_url=env.get(ACCESS_DB_ENV) or None,
            audit_secret=env.get(AUDIT_SECRET_ENV) or None,
            pushgateway_url=env.get(PUSHGATEWAY_ENV) or None,
            metrics_job=env.get(METRICS_JOB_ENV) or "phlo_lakehouse",
            home=home or env.get("PHLO_LAKEHOUSE_HOME") or None,
            phlo=env.get(UNDER_PHLO_ENV, "").strip().lower() in _TRUE,
        )

    def access_url(self) -> str:
        """Where policies and the audit log live.

        Example:
            >>> HookSettings(home="/srv/lh").access_url()
            'sqlite:////srv/lh/access.db'
        """
        if self.access_db_url:
            return self.access_db_url
        return f"sqlite:///{os.path.abspath(self.home or '.lakehouse')}/access.db"


def build_hooks(
    settings: HookSettings,
    lakehouse: CatalogSource | None = None,
    *,
    metrics: ObservabilityProvider | None = None,
) -> list[ExecutionHook]:
    """The execution hooks ``settings`` ask for, in the order the executor must call them.

    Args:
        settings: which hooks to build.
        lakehouse: the lakehouse the hooks serve (the tracer refreshes its table health gauges
            from it after each committed operation).
        metrics: record metrics here (default: a new `PrometheusObservability` when
            ``settings.pushgateway_url`` is set, else no metrics). A tracer is added whenever
            there is a provider; a pusher when there is a Pushgateway.

    Example:
        >>> from phlo_lakehouse.observability import PrometheusObservability
        >>> hooks = build_hooks(HookSettings(), metrics=PrometheusObservability())
        >>> [type(h).__name__ for h in hooks]
        ['OperationTracer']
    """
    hooks: list[ExecutionHook] = []
    plugin = hook_plugin("phlo") if settings.phlo else HookPlugin()
    if settings.pushgateway_url:
        from phlo_lakehouse.observability import MetricsPusher, PrometheusObservability

        metrics = PrometheusObservability() if metrics is None else metrics
        if not isinstance(metrics, PrometheusObservability):
            raise InvalidConfig(
                "metrics pushed to a Pushgateway must be a PrometheusObservability",
                hint="pass metrics=PrometheusObservability() or no pushgateway_url",
            )
        # First, so that its after/on_error run last: everything else has been recorded.
        hooks.append(MetricsPusher(metrics, settings.pushgateway_url, settings.metrics_job))
    if settings.access_control:
        from phlo_lakehouse.access.audit import SqlAuditLogger
        from phlo_lakehouse.access.enforcement import AccessControlHook
        from phlo_lakehouse.access.store import SqlAccessControlProvider

        url = settings.access_url()
        # Before the tracer: a denied run stops here, and is still traced by on_error.
        hooks.append(
            AccessControlHook(
                SqlAccessControlProvider(url), SqlAuditLogger(url, secret=settings.audit_secret)
            )
        )
    # After ours: both must allow, and our audit chain records the attempt either way.
    hooks.extend(plugin.guards())
    if metrics is not None:
        from phlo_lakehouse.observability import OperationTracer

        hooks.append(OperationTracer(metrics, lakehouse))
    # Last, like the tracer they mirror: they report every run, denied ones included.
    hooks.extend(plugin.reporters())
    return hooks


def metrics_of(hooks: list[ExecutionHook]) -> ObservabilityProvider | None:
    """The metrics provider of a hook set built by `build_hooks` (None without metrics).

    Example:
        >>> metrics_of([]) is None
        True
    """
    from phlo_lakehouse.observability import OperationTracer

    for hook in hooks:
        if isinstance(hook, OperationTracer):
            return hook.provider
    return None
