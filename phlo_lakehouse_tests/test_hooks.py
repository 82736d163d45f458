"""One hook-set builder for the Python API, the CLI and the Dagster resource: same hooks, same
order; the CLI now measures operations and pushes them to a real Pushgateway."""

import uuid

import pytest
import requests

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.cli.command import CliState
from phlo_lakehouse.dagster import LakehouseResource
from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.hooks import HookSettings, build_hooks, metrics_of
from phlo_lakehouse.testing import TableSeed
from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse_tests.conftest import require_env


def _kinds(hooks):
    return [type(h).__name__ for h in hooks]


def test_cli_dagster_and_api_get_the_same_hooks_in_the_same_order(tmp_path):
    home = str(tmp_path / "lh")
    env = {
        "PHLO_LAKEHOUSE_HOME": home,
        "PHLO_LAKEHOUSE_ACCESS_CONTROL": "yes",
        "PHLO_LAKEHOUSE_PUSHGATEWAY_URL": "http://127.0.0.1:9",
        "PHLO_LAKEHOUSE_METRICS_JOB": "nightly",
    }
    cli = CliState(catalog_options={"home": home}, env=env, create=True).lakehouse
    resource = LakehouseResource(
        home=home, access_control=True, pushgateway_url="http://127.0.0.1:9", metrics_job="nightly"
    ).get_lakehouse()
    settings = HookSettings.from_env(env)
    api = IcebergLakehouse(CatalogSettings.embedded(home))
    api.hooks = build_hooks(settings, api)
    expected = ["MetricsPusher", "AccessControlHook", "OperationTracer"]
    assert _kinds(cli.hooks) == _kinds(resource.hooks) == _kinds(api.hooks) == expected
    assert cli.hooks[0].job == resource.hooks[0].job == "nightly"
    assert settings.access_url() == f"sqlite:///{home}/access.db"
    assert cli.hooks[1].audit.url == resource.hooks[1].audit.url == settings.access_url()


def test_no_settings_build_no_hooks_and_metrics_alone_build_a_tracer(tmp_path):
    from phlo_lakehouse.observability import ObservabilityProvider, PrometheusObservability

    assert build_hooks(HookSettings()) == []
    metrics = PrometheusObservability()
    hooks = build_hooks(HookSettings(), metrics=metrics)
    assert _kinds(hooks) == ["OperationTracer"] and metrics_of(hooks) is metrics

    class Elsewhere(ObservabilityProvider):
        def record_operation(self, **kwargs):
            pass

        def increment(self, name, value=1.0, **labels):
            pass

        def set_gauge(self, name, value, **labels):
            pass

    with pytest.raises(InvalidConfig):
        build_hooks(HookSettings(pushgateway_url="http://127.0.0.1:9"), metrics=Elsewhere())


@pytest.mark.pushgateway
class TestCliPushesMetrics(CLITestCase):
    tables = (TableSeed("demo.events", commits=6, rows_per_commit=20, partitioned=False),)

    def _pushed(self, gateway: str, job: str, args: list[str], code: int, **env: str) -> list[str]:
        env.update(PHLO_LAKEHOUSE_PUSHGATEWAY_URL=gateway, PHLO_LAKEHOUSE_METRICS_JOB=job)
        self.assert_exit_code(self.invoke_command(args, env=env), code)
        text = requests.get(f"{gateway}/metrics", timeout=10).text
        return [
            line
            for line in text.splitlines()
            if f'job="{job}"' in line and line.startswith("phlo_lakehouse_operations_total")
        ]

    def test_cli_operations_are_measured_and_pushed_failed_ones_too(self):
        gateway = require_env("PHLO_TEST_PUSHGATEWAY_URL", "pushgateway")
        job = f"phlo_cli_{uuid.uuid4().hex[:8]}"
        try:
            lines = self._pushed(gateway, job, ["optimize", "demo.events", "--yes"], 0)
            assert len(lines) == 1, lines
            assert 'operation="optimize"' in lines[0] and 'status="success"' in lines[0]
            # each command is a batch job: its push replaces the job's group
            denied = {"PHLO_LAKEHOUSE_ACCESS_CONTROL": "true", "PHLO_LAKEHOUSE_PRINCIPAL": "eve"}
            lines = self._pushed(gateway, job, ["vacuum", "demo.events", "--yes"], 1, **denied)
            assert len(lines) == 1, lines
            assert 'operation="vacuum"' in lines[0] and 'status="denied"' in lines[0]
        finally:
            requests.delete(f"{gateway}/metrics/job/{job}", timeout=10)
