"""The lakehouse Phlo's capability calls run on, with the hooks running under Phlo adds.

Under Phlo every operation goes through, in order: our SQL access control when
``PHLO_LAKEHOUSE_ACCESS_CONTROL`` is on (checks and audits), Phlo's authorization policy backend
when Phlo enforces authorization (`PhloAuthorizationHook`), and Phlo's maintenance telemetry
(`PhloTelemetryHook`).

Example:
    >>> lakehouse = phlo_lakehouse({"PHLO_LAKEHOUSE_HOME": "/tmp/phlo-doc"})
    >>> [type(h).__name__ for h in lakehouse.hooks]
    ['PhloAuthorizationHook', 'PhloTelemetryHook']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.operations.executor import ExecutionHook


def phlo_hooks(env: Mapping[str, str], **telemetry: Any) -> list[ExecutionHook]:
    """The hooks an operation run under Phlo goes through (see the module docstring)."""
    from phlo_lakehouse.access.enforcement import hook_from_env
    from phlo_lakehouse.phlo_adapter.authorization import PhloAuthorizationHook
    from phlo_lakehouse.phlo_adapter.telemetry import PhloTelemetryHook

    hooks: list[ExecutionHook] = []
    access = hook_from_env(dict(env))
    if access is not None:
        hooks.append(access)
    hooks.append(PhloAuthorizationHook())
    hooks.append(PhloTelemetryHook(**telemetry))
    return hooks


def phlo_lakehouse(env: Mapping[str, str]) -> IcebergLakehouse:
    """An `IcebergLakehouse` configured from ``env`` with `phlo_hooks` (no connection yet)."""
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.lakehouse import IcebergLakehouse

    return IcebergLakehouse(CatalogSettings.from_env(env), hooks=phlo_hooks(env))


class LakehouseFromEnvironment:
    """Base of the providers Phlo builds while discovering capabilities: construction only
    stores its arguments; the lakehouse is built from the environment on first use.

    Args:
        ref: the ref calls default to (default: the catalog's default ref).
        lakehouse: the lakehouse to use instead of one built from the environment.
        env: the environment settings are read from (default: ``os.environ``).
    """

    def __init__(
        self,
        *,
        ref: str | None = None,
        lakehouse: IcebergLakehouse | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._ref = ref
        self._lakehouse = lakehouse
        self._env = env

    @property
    def env(self) -> Mapping[str, str]:
        """The environment settings are read from."""
        return os.environ if self._env is None else self._env

    def lakehouse(self) -> IcebergLakehouse:
        """The lakehouse, built from the environment with `phlo_hooks` on first use."""
        if self._lakehouse is None:
            self._lakehouse = phlo_lakehouse(self.env)
        return self._lakehouse
