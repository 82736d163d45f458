"""``phlo operations maintenance inventory|plan|apply`` with the real ``phlo`` executable on the
embedded SQLite catalog: our ``compact`` and ``snapshot_expiry`` executors, Phlo's journal."""

import json

from phlo_lakehouse_tests.phlo_adapter.conftest import (
    data_file_count,
    require_phlo,
    sorted_rows,
)

require_phlo()

TABLE = "demo.events"


def test_inventory_lists_each_table_once_per_executor(project):
    done = project.phlo("operations", "maintenance", "inventory", "--format", "json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["executors"] == ["compact", "snapshot_expiry"]
    entries = {(e["table_name"], e["operation"]): e for e in listing["tables"]}
    assert set(entries) == {(TABLE, "compact"), (TABLE, "snapshot_expiry")}
    compact = entries[(TABLE, "compact")]
    assert compact["state"] == "due"
    assert compact["stats"]["data_files"] == data_file_count(project.lakehouse, TABLE)
    assert compact["stats"]["snapshots"] == 12
    # Nothing is 168 hours old yet.
    assert entries[(TABLE, "snapshot_expiry")]["state"] == "ok"


def test_compact_plan_then_apply_rewrites_files_and_keeps_every_row(project):
    rows = sorted_rows(project.lakehouse, TABLE)
    files_before = data_file_count(project.lakehouse, TABLE)
    head = project.lakehouse.get_table(TABLE).snapshot_id

    done, plan, plan_file = project.plan("compact", TABLE)
    assert done.returncode == 0, done.stderr
    assert plan["status"] == "planned" and plan["accepted"] is True
    assert plan["before_revision"] == head
    assert plan["planned"]["figures"]["files_to_rewrite"] == files_before
    # Planning changed nothing.
    assert project.lakehouse.get_table(TABLE).snapshot_id == head

    done, result = project.apply(plan_file)
    assert done.returncode == 0, done.stderr
    assert result["status"] == "succeeded" and result["executed"] is True
    assert result["before_revision"] == head
    after = project.lakehouse.get_table(TABLE)
    assert result["after_revision"] == after.snapshot_id != head
    assert after.snapshot.summary.operation.value == "replace"
    assert data_file_count(project.lakehouse, TABLE) < files_before
    assert result["affected"]["files_written"] == data_file_count(project.lakehouse, TABLE)
    assert sorted_rows(project.lakehouse, TABLE) == rows

    record = project.journal(f"compact:{TABLE}:main")
    assert record["state"] == "succeeded"
    assert record["plan_token"] == plan["plan_token"]
    assert record["result"]["after_revision"] == after.snapshot_id


def test_a_table_changed_after_the_plan_is_blocked_and_left_as_it_is(project):
    done, plan, plan_file = project.plan("compact", TABLE)
    assert done.returncode == 0, done.stderr
    table = project.lakehouse.get_table(TABLE).table
    table.append(table.scan(limit=5).to_arrow())  # another writer lands a commit
    moved = project.lakehouse.get_table(TABLE)
    rows = sorted_rows(project.lakehouse, TABLE)

    done, result = project.apply(plan_file)
    assert done.returncode == 1
    assert result["status"] == "blocked" and result["accepted"] is False
    assert result["failure"]["code"] == "plan_stale"
    assert str(plan["before_revision"]) in result["failure"]["message"]
    after = project.lakehouse.get_table(TABLE)
    assert after.table.metadata_location == moved.table.metadata_location
    assert sorted_rows(project.lakehouse, TABLE) == rows
    record = project.journal(f"compact:{TABLE}:main")
    assert record["state"] == "failed"
    assert record["result"]["failure"]["code"] == "plan_stale"


def test_snapshot_expiry_plans_and_applies_past_the_168_hour_floor(project):
    rows = sorted_rows(project.lakehouse, TABLE)
    snapshots = len(project.lakehouse.get_table(TABLE).table.snapshots())
    # Eight days later (the phlo process's clock, via libfaketime) every snapshot but the head
    # is past the default 7-day retention.
    done, plan, plan_file = project.plan("snapshot_expiry", TABLE, faketime="+8d")
    assert done.returncode == 0, done.stderr
    assert plan["status"] == "planned"
    assert len(plan["planned"]["candidate_snapshots"]) == snapshots - 1

    done, result = project.apply(plan_file, faketime="+8d")
    assert done.returncode == 0, done.stderr
    assert result["status"] == "succeeded"
    assert result["affected"]["deleted_snapshots"] == snapshots - 1
    table = project.lakehouse.get_table(TABLE)
    assert [s.snapshot_id for s in table.table.snapshots()] == [table.snapshot_id]
    assert sorted_rows(project.lakehouse, TABLE) == rows
    assert project.journal(f"snapshot_expiry:{TABLE}:main")["state"] == "succeeded"


def test_snapshot_expiry_now_has_nothing_to_expire_and_applies_as_noop(project):
    done, plan, plan_file = project.plan("snapshot_expiry", TABLE)
    assert done.returncode == 0, done.stderr
    assert plan["status"] == "noop" and plan["plan_token"]
    head = project.lakehouse.get_table(TABLE).table.metadata_location
    done, result = project.apply(plan_file)
    assert done.returncode == 0, done.stderr
    assert result["status"] == "noop" and result["accepted"] is True
    assert project.lakehouse.get_table(TABLE).table.metadata_location == head
    assert project.journal(f"snapshot_expiry:{TABLE}:main")["state"] == "succeeded"


def test_retention_under_168_hours_is_refused_not_clamped(project):
    setting = json.dumps({"older_than": "1d"})
    done, plan, _ = project.plan(
        "snapshot_expiry", TABLE, faketime="+8d", PHLO_LAKEHOUSE_SNAPSHOT_EXPIRY=setting
    )
    assert done.returncode == 1
    assert plan["status"] == "blocked"
    assert plan["failure"]["code"] == "retention_floor_violation"
    assert "168-hour" in plan["failure"]["message"]
    assert len(project.lakehouse.get_table(TABLE).table.snapshots()) == 12


def test_a_ref_retention_shorter_than_the_floor_blocks_the_plan(project):
    table = project.lakehouse.get_table(TABLE).table
    third = sorted(table.snapshots(), key=lambda s: s.sequence_number)[2].snapshot_id
    with table.manage_snapshots() as refs:
        refs.create_branch(third, "audit")
    batch = table.scan(limit=3).to_arrow()
    for _ in range(3):
        table.append(batch, branch="audit")
    # (PyIceberg's append to a branch resets the branch's retention: set it afterwards.)
    head = table.metadata.refs["audit"].snapshot_id
    with table.manage_snapshots() as refs:
        refs.remove_branch("audit")
        refs.create_branch(head, "audit", max_snapshot_age_ms=1)
    state = project.lakehouse.get_table(TABLE).table.metadata_location
    # older_than=7d keeps everything made today, but "audit"'s own 1 ms max-snapshot-age would
    # expire its two older commits, made seconds ago: under Phlo's floor, so the plan is refused.
    done, plan, _ = project.plan("snapshot_expiry", TABLE)
    assert done.returncode == 1
    assert plan["status"] == "blocked"
    assert plan["failure"]["code"] == "retention_floor_violation"
    assert "younger than 168 hours" in plan["failure"]["message"]
    assert project.lakehouse.get_table(TABLE).table.metadata_location == state


def test_a_token_for_another_table_or_edited_is_refused(project):
    done, plan, plan_file = project.plan("compact", TABLE)
    assert done.returncode == 0, done.stderr
    edited = dict(plan, table_name="demo.other")
    other = project.root / "edited.json"
    other.write_text(json.dumps(edited))
    done, result = project.apply(other)
    assert done.returncode == 1
    assert result["status"] == "failed"
    assert result["failure"]["code"] == "invalid_request"
    assert "demo.events" in result["failure"]["message"]

    damaged = dict(plan, plan_token="plk1.not-base64!.x")
    bad = project.root / "damaged.json"
    bad.write_text(json.dumps(damaged))
    done, result = project.apply(bad)
    assert done.returncode == 1
    assert result["failure"]["code"] == "invalid_request"


def test_malformed_settings_fail_the_plan_with_one_line_and_no_traceback(project):
    done, plan, _ = project.plan("compact", TABLE, PHLO_LAKEHOUSE_COMPACT="{not json")
    assert done.returncode == 1
    assert plan["status"] == "failed"
    assert plan["failure"]["message"].startswith("PHLO_LAKEHOUSE_COMPACT is not JSON")
    assert "Traceback" not in done.stderr


def test_an_unknown_table_is_a_failed_plan_not_a_crash(project):
    done, plan, _ = project.plan("compact", "demo.nope")
    assert done.returncode == 1
    assert plan["status"] == "failed"
    assert plan["failure"]["code"] == "not_found"
    assert "Traceback" not in done.stderr


def test_with_every_installed_phlo_plugin_loaded_compact_is_still_ours(project):
    project.only_ours = False  # phlo-iceberg, phlo-nessie, phlo-trino, phlo-dagster load too
    done = project.phlo("operations", "maintenance", "inventory", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["executors"]) == ["compact", "snapshot_expiry", "trino"]
    done, plan, plan_file = project.plan("compact", TABLE)
    assert done.returncode == 0, done.stderr
    assert plan["evidence"]["provider"] == "phlo-lakehouse"
    done, result = project.apply(plan_file)
    assert done.returncode == 0, done.stderr
    assert result["status"] == "succeeded"
