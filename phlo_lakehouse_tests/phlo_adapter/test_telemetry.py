"""Our runs in Phlo's telemetry file, in ``phlo metrics export --format prometheus`` and in
Phlo's maintenance read model — through the executors and through ``phlo lakehouse``."""

import subprocess

from phlo_lakehouse_tests.cli.conftest import script
from phlo_lakehouse_tests.phlo_adapter.conftest import require_phlo

require_phlo()

TABLE = "demo.events"


def _complete_events(project):
    return [
        e
        for e in project.telemetry()
        if e["event_type"] == "telemetry.log" and e["name"] == "iceberg.maintenance.complete"
    ]


def _prometheus(project):
    out = project.root / "metrics.prom"
    done = project.phlo("metrics", "export", "--format", "prometheus", "--output", str(out))
    assert done.returncode == 0, done.stderr
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in out.read_text().splitlines()
        if line and not line.startswith("#")
    }


def test_a_plan_and_an_apply_show_up_in_phlo_metrics(project):
    done, _, plan_file = project.plan("compact", TABLE)
    assert done.returncode == 0, done.stderr
    done, result = project.apply(plan_file)
    assert done.returncode == 0, done.stderr

    events = _complete_events(project)
    assert [(e["tags"]["operation"], e["tags"]["dry_run"]) for e in events] == [
        ("compact", "true"),
        ("compact", "false"),
    ]
    applied = events[-1]["payload"]
    assert applied["status"] == "success" and applied["outcome"] == "committed"
    assert applied["namespace"] == "demo" and applied["table"] == TABLE
    assert applied["snapshot_id_after"] == result["after_revision"]
    assert applied["total_records"] == 1200  # 12 commits × 100 rows, unchanged by compaction

    labels = 'dry_run="false",namespace="demo",operation="compact",ref="main",status="success"'
    metrics = _prometheus(project)
    assert metrics[f"phlo_iceberg_maintenance_runs_total{{{labels}}}"] == 1.0
    assert metrics[f"phlo_iceberg_maintenance_tables_processed_total{{{labels}}}"] == 1.0
    assert metrics[f"phlo_iceberg_maintenance_records{{{labels}}}"] == 1200.0


def test_phlos_maintenance_status_reports_our_latest_run(project, monkeypatch):
    done, _, plan_file = project.plan("snapshot_expiry", TABLE, faketime="+8d")
    assert done.returncode == 0, done.stderr
    done, _ = project.apply(plan_file, faketime="+8d")
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("PHLO_TELEMETRY_PATH", str(project.telemetry_path))
    from phlo.capabilities.maintenance import DefaultMaintenanceReadModel

    status = DefaultMaintenanceReadModel().load_maintenance_status()
    [latest] = [s for s in status.operations if s.operation == "expire_snapshots"]
    assert (latest.namespace, latest.ref, latest.status) == ("demo", "main", "success")
    assert latest.snapshots_deleted == 11
    assert latest.dry_run is False


def test_a_blocked_apply_is_reported_as_blocked(project):
    done, _, plan_file = project.plan("compact", TABLE)
    table = project.lakehouse.get_table(TABLE).table
    table.append(table.scan(limit=1).to_arrow())
    done, _ = project.apply(plan_file)
    assert done.returncode == 1
    events = [e for e in project.telemetry() if e["event_type"] == "telemetry.log"]
    assert [e["name"] for e in events][-2:] == [
        "iceberg.maintenance.complete",
        "iceberg.maintenance.failed",
    ]
    assert events[-1]["payload"]["status"] == "blocked"
    assert events[-1]["payload"]["error_type"] == "PlanStale"
    labels = 'dry_run="false",namespace="demo",operation="compact",ref="main",status="blocked"'
    assert _prometheus(project)[f"phlo_iceberg_maintenance_errors_total{{{labels}}}"] == 1.0


def test_phlo_lakehouse_inside_phlo_writes_telemetry_and_on_its_own_does_not(project):
    done = project.phlo("lakehouse", "manifests", "rewrite", TABLE, "--yes")
    assert done.returncode == 0, done.stderr
    [event] = _complete_events(project)
    assert event["tags"]["operation"] == "rewrite_manifests"

    def standalone(**env):
        return subprocess.run(
            [script("phlo-lakehouse"), "optimize", TABLE, "--yes"],
            capture_output=True,
            text=True,
            env=project.env(**env),
            cwd=project.root,
            timeout=300,
        )

    done = standalone()
    assert done.returncode == 0, done.stderr
    assert len(_complete_events(project)) == 1
    # Told it runs under Phlo (e.g. a Phlo-managed cron), it reports too.
    done = standalone(PHLO_LAKEHOUSE_UNDER_PHLO="true")
    assert done.returncode == 0, done.stderr
    assert [e["tags"]["operation"] for e in _complete_events(project)][1:] == ["compact"]
