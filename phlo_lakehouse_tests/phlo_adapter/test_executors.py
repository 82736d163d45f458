"""Our maintenance executors called the way Phlo's code calls them, in process: plan tokens,
phlo-dagster's ``MaintenanceExecutor`` protocol, refusals as results, sinks that fail."""

import json
import textwrap

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse_tests.phlo_adapter.conftest import (
    data_file_count,
    require_phlo,
    run_python,
    sorted_rows,
)

require_phlo()

from phlo.capabilities import MaintenanceExecutor  # noqa: E402
from phlo.capabilities.maintenance import (  # noqa: E402
    MaintenanceExecutionError,
    MaintenancePreconditionError,
)

from phlo_lakehouse.phlo_adapter.executors import (  # noqa: E402
    CompactExecutor,
    SnapshotExpiryExecutor,
)
from phlo_lakehouse.phlo_adapter.tokens import PlanToken  # noqa: E402

TABLE = "demo.events"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    telemetry = tmp_path / "telemetry.jsonl"
    monkeypatch.setenv("PHLO_TELEMETRY_PATH", str(telemetry))
    monkeypatch.setenv("PHLO_LOG_FILE_TEMPLATE", "")
    for name in ("PHLO_REGULATED", "PHLO_AUTHORIZATION_BACKEND", "PHLO_LAKEHOUSE_ACCESS_CONTROL"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "lakehouse"
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(home))
    seed_demo_table(lakehouse, TABLE, commits=8, rows_per_commit=50)
    return {"PHLO_LAKEHOUSE_HOME": str(home)}


@pytest.fixture
def unreachable(tmp_path, monkeypatch):
    """Settings of a Nessie catalog nobody listens for."""
    monkeypatch.chdir(tmp_path)
    return {
        "PHLO_LAKEHOUSE_CATALOG_TYPE": "nessie",
        "PHLO_LAKEHOUSE_CATALOG_URI": "http://127.0.0.1:9",
        "PHLO_LAKEHOUSE_WAREHOUSE": "warehouse",
    }


def test_both_executors_pass_phlo_dagsters_isinstance_check(env):
    for executor in (CompactExecutor(env=env), SnapshotExpiryExecutor(env=env)):
        assert isinstance(executor, MaintenanceExecutor)
        assert isinstance(executor.for_ref("dev"), MaintenanceExecutor)
        assert executor.for_ref("dev").default_ref == "dev"


def test_the_token_binds_table_uuid_snapshot_and_settings(env):
    env = {**env, "PHLO_LAKEHOUSE_COMPACT": json.dumps({"min_input_files": 2})}
    plan = CompactExecutor(env=env).plan(table_name=TABLE, ref="main")
    token = PlanToken.decode(plan.plan_token)
    table = IcebergLakehouse(CatalogSettings.embedded(env["PHLO_LAKEHOUSE_HOME"])).get_table(TABLE)
    assert token.table_uuid == str(table.table.metadata.table_uuid)
    assert token.snapshot_id == table.snapshot_id == plan.before_revision
    assert token.settings == {"min_input_files": 2}
    assert (token.operation, token.table, token.ref) == ("compact", TABLE, "main")


def test_execute_recovers_the_settings_from_the_token_not_the_environment(env):
    planned_with = {**env, "PHLO_LAKEHOUSE_COMPACT": json.dumps({"min_input_files": 2})}
    plan = CompactExecutor(env=planned_with).plan(table_name=TABLE, ref="main")
    # Executed where the settings differ (or are unset): the confirmed settings are used.
    result = CompactExecutor(env=env).execute(
        table_name=TABLE, ref="main", plan_token=plan.plan_token
    )
    assert result.status.value == "succeeded", result.failure
    assert result.planned == plan.planned


def test_a_dropped_and_recreated_table_is_blocked(env):
    plan = CompactExecutor(env=env).plan(table_name=TABLE, ref="main")
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(env["PHLO_LAKEHOUSE_HOME"]))
    seed_demo_table(lakehouse, TABLE, commits=8, rows_per_commit=50, replace=True)
    result = CompactExecutor(env=env).execute(
        table_name=TABLE, ref="main", plan_token=plan.plan_token
    )
    assert result.status.value == "blocked"
    assert result.failure["code"] == "plan_stale"
    assert "re-created" in result.failure["message"]
    assert data_file_count(lakehouse, TABLE) == 8 * 4


def test_a_changed_table_property_changes_the_plan_and_blocks(env):
    plan = CompactExecutor(env=env).plan(table_name=TABLE, ref="main")
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(env["PHLO_LAKEHOUSE_HOME"]))
    table = lakehouse.get_table(TABLE).table
    with table.transaction() as tx:
        tx.set_properties({"write.target-file-size-bytes": "1024"})
    result = CompactExecutor(env=env).execute(
        table_name=TABLE, ref="main", plan_token=plan.plan_token
    )
    assert result.status.value == "blocked"
    assert "no longer the one confirmed" in result.failure["message"]


def test_an_unreachable_catalog_is_a_failed_result_never_an_exception(unreachable):
    env = unreachable
    executor = CompactExecutor(env=env)
    plan = executor.plan(table_name=TABLE, ref="main")
    assert plan.status.value == "failed"
    assert plan.failure["code"] == "catalog_unavailable"
    result = executor.execute(table_name=TABLE, ref="main", plan_token="plk1.e30.x")
    assert result.status.value == "failed"
    inventory = executor.get_inventory()
    assert [e["state"] for e in inventory] == ["error"]


def test_compact_table_refuses_a_moved_revision_before_changing_anything(env):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(env["PHLO_LAKEHOUSE_HOME"]))
    before = lakehouse.get_table(TABLE).table.metadata_location
    with pytest.raises(MaintenancePreconditionError, match="moved before execution"):
        CompactExecutor(env=env).for_ref("main").compact_table(
            table_name=TABLE, ref="main", expected_revision=1234
        )
    assert lakehouse.get_table(TABLE).table.metadata_location == before


def test_compact_table_at_the_expected_revision_compacts(env):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(env["PHLO_LAKEHOUSE_HOME"]))
    rows = sorted_rows(lakehouse, TABLE)
    head = lakehouse.get_table(TABLE).snapshot_id
    # Called on the snapshot_expiry provider: the protocol's methods do what they say whichever
    # spec phlo-dagster resolved.
    out = (
        SnapshotExpiryExecutor(env=env)
        .for_ref("main")
        .compact_table(
            table_name=TABLE, ref="main", expected_revision=head, operation_id="run-1:demo.events"
        )
    )
    assert out["status"] == "succeeded"
    assert out["preflight"] == {"snapshot_id": head}
    assert out["after_revision"] == lakehouse.get_table(TABLE).snapshot_id
    assert data_file_count(lakehouse, TABLE) == 4
    assert sorted_rows(lakehouse, TABLE) == rows


def test_expire_snapshots_table_refuses_retention_under_the_floor(env):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(env["PHLO_LAKEHOUSE_HOME"]))
    head = lakehouse.get_table(TABLE).snapshot_id
    with pytest.raises(MaintenancePreconditionError, match="168-hour"):
        CompactExecutor(env=env).expire_snapshots_table(
            table_name=TABLE, ref="main", expected_revision=head, retention_hours=24, retain_last=1
        )
    assert len(lakehouse.get_table(TABLE).table.snapshots()) == 8


def test_expire_snapshots_table_honours_retention_and_retain_last(env, tmp_path):
    # A process whose clock runs 10 days ahead (libfaketime) calls the protocol method.
    code = textwrap.dedent(
        f"""
        import json
        from phlo_lakehouse import CatalogSettings, IcebergLakehouse
        from phlo_lakehouse.phlo_adapter.executors import SnapshotExpiryExecutor
        lh = IcebergLakehouse(CatalogSettings.embedded({env["PHLO_LAKEHOUSE_HOME"]!r}))
        head = lh.get_table("{TABLE}").snapshot_id
        out = SnapshotExpiryExecutor(env={env!r}).expire_snapshots_table(
            table_name="{TABLE}", ref="main", expected_revision=head,
            retention_hours=168, retain_last=3)
        print(json.dumps(out, default=str))
        """
    )
    out = run_python(code, cwd=tmp_path, faketime="+10d")
    assert out["status"] == "succeeded"
    assert out["affected"]["deleted_snapshots"] == 5
    assert out["retain_last"] == {"requested": 3, "enforced": True}
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(env["PHLO_LAKEHOUSE_HOME"]))
    assert len(lakehouse.get_table(TABLE).table.snapshots()) == 3


def test_a_telemetry_sink_that_fails_does_not_fail_the_operation(env, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("PHLO_TELEMETRY_PATH", str(blocker / "events.jsonl"))
    plan = CompactExecutor(env=env).plan(table_name=TABLE, ref="main")
    result = CompactExecutor(env=env).execute(
        table_name=TABLE, ref="main", plan_token=plan.plan_token
    )
    assert result.status.value == "succeeded"
    assert not (blocker / "events.jsonl").exists()


def test_the_operation_ids_match_phlos_journal(env):
    plan = SnapshotExpiryExecutor(env=env).plan(table_name=TABLE, ref="main")
    assert plan.operation_id == f"snapshot_expiry:{TABLE}:main"


def test_compact_table_on_an_unreachable_catalog_fails_in_preflight(unreachable):
    env = unreachable
    with pytest.raises(MaintenanceExecutionError) as caught:
        CompactExecutor(env=env).compact_table(table_name=TABLE, ref="main", expected_revision=1)
    assert caught.value.phase.value == "preflight"
