"""The one hook builder adds the Phlo hooks where their order needs them."""

import pytest

from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.hooks import (
    HOOK_PLUGINS_GROUP,
    HookPlugin,
    HookSettings,
    build_hooks,
    hook_plugin,
)
from phlo_lakehouse.observability import PrometheusObservability
from phlo_lakehouse_tests.phlo_adapter.conftest import require_phlo

require_phlo()


def test_phlo_hooks_come_after_our_access_control_and_telemetry_last(tmp_path):
    settings = HookSettings(access_control=True, home=str(tmp_path), phlo=True)
    hooks = build_hooks(settings, metrics=PrometheusObservability())
    assert [type(h).__name__ for h in hooks] == [
        "AccessControlHook",
        "PhloAuthorizationHook",
        "OperationTracer",
        "PhloTelemetryHook",
    ]


def test_the_phlo_hooks_are_off_unless_asked_for():
    assert build_hooks(HookSettings()) == []
    assert HookSettings.from_env({"PHLO_LAKEHOUSE_UNDER_PHLO": "true"}).phlo is True
    assert HookSettings.from_env({}).phlo is False


def test_the_phlo_hooks_arrive_through_the_installed_entry_point():
    # The oracle is the installed distribution's own metadata, not our loader.
    from importlib.metadata import distribution

    declared = {
        ep.name: ep.value
        for ep in distribution("phlo-lakehouse").entry_points
        if ep.group == HOOK_PLUGINS_GROUP
    }
    assert declared == {"phlo": "phlo_lakehouse.phlo_adapter.hooks:PHLO_HOOKS"}
    plugin = hook_plugin("phlo")
    assert isinstance(plugin, HookPlugin)
    assert [type(h).__name__ for h in plugin.guards()] == ["PhloAuthorizationHook"]
    assert [type(h).__name__ for h in plugin.reporters()] == ["PhloTelemetryHook"]


def test_a_plugin_that_is_not_installed_is_a_one_line_error():
    with pytest.raises(InvalidConfig) as raised:
        hook_plugin("not-installed")
    assert "no hook plugin 'not-installed' is installed" in raised.value.message
    assert "\n" not in str(raised.value)
    assert "pip install" in raised.value.hint
