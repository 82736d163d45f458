"""The one hook builder adds the Phlo hooks where their order needs them."""

from phlo_lakehouse.hooks import HookSettings, build_hooks
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
