"""The lakehouse Phlo's capability calls run on: settings and hooks from the environment, with
the Phlo hooks on.

The hook set comes from the one builder (`phlo_lakehouse.hooks.build_hooks`) with
``HookSettings.phlo`` set: our SQL access control when ``PHLO_LAKEHOUSE_ACCESS_CONTROL`` is on,
Phlo's authorization policy backend when Phlo enforces authorization, metrics when a
Pushgateway is configured, and Phlo's maintenance telemetry.

Example:
    >>> lakehouse = phlo_lakehouse({"PHLO_LAKEHOUSE_HOME": "/tmp/phlo-doc"})
    >>> [type(h).__name__ for h in lakehouse.hooks]
    ['PhloAuthorizationHook', 'PhloTelemetryHook']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phlo_lakehouse.lakehouse import IcebergLakehouse


def phlo_lakehouse(env: Mapping[str, str]) -> IcebergLakehouse:
    """An `IcebergLakehouse` configured from ``env`` with the Phlo hooks (no connection yet)."""
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.hooks import HookSettings, build_hooks
    from phlo_lakehouse.lakehouse import IcebergLakehouse

    lakehouse = IcebergLakehouse(CatalogSettings.from_env(env))
    lakehouse.hooks = build_hooks(replace(HookSettings.from_env(env), phlo=True), lakehouse)
    return lakehouse


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
        """The lakehouse, built from the environment with the Phlo hooks on first use."""
        if self._lakehouse is None:
            self._lakehouse = phlo_lakehouse(self.env)
        return self._lakehouse
