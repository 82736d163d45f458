"""``access …`` commands, and enforcement of every other command when access control is on."""

import sqlite3

from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.testing.lakehouses import TableSeed

POLICY = """
groups:
  eng: [alice]
policies:
  - {principal: group:eng, resource: lakehouse.raw.*, permissions: [optimize]}
"""


class TestAccessCommands(CLITestCase):
    tables = [TableSeed("raw.events", commits=6, rows_per_commit=20)]

    def _env(self, tmp_path, **extra):
        return {"PHLO_LAKEHOUSE_ACCESS_DB": f"sqlite:///{tmp_path}/access.db", **extra}

    def test_grant_check_list_revoke(self, tmp_path):
        env = self._env(tmp_path)
        grant = ["access", "grant", "alice", "lakehouse.raw.*", "optimize", "expire"]
        self.assert_exit_code(self.invoke_command(grant, env=env), 2)  # non-interactive: --yes
        self.assert_success(self.invoke_command([*grant, "--yes"], env=env))
        check = self.invoke_command(
            ["access", "check", "alice", "lakehouse.raw.events", "optimize", "--format", "json"],
            env=env,
        )
        self.assert_success(check)
        assert self.json_output(check)["allowed"] is True
        denied = self.invoke_command(
            ["access", "check", "alice", "lakehouse.raw.events", "vacuum"], env=env
        )
        self.assert_exit_code(denied, 1)
        listed = self.json_output(
            self.invoke_command(["access", "list", "--format", "json"], env=env)
        )
        assert listed["policies"][0]["permissions"] == ["expire", "optimize"]
        revoke = ["access", "revoke", "alice", "lakehouse.raw.*", "expire", "--yes"]
        self.assert_success(self.invoke_command(revoke, env=env))
        listed = self.json_output(
            self.invoke_command(["access", "list", "--format", "json"], env=env)
        )
        assert listed["policies"][0]["permissions"] == ["optimize"]

    def test_unknown_permission_exits_2_with_one_line(self, tmp_path):
        result = self.invoke_command(
            ["access", "grant", "alice", "lakehouse.*", "fly", "--yes"], env=self._env(tmp_path)
        )
        self.assert_exit_code(result, 2)
        self.assert_output_contains(result, "unknown permission 'fly'")
        assert "Traceback" not in result.stderr

    def test_sync_previews_then_applies(self, tmp_path):
        env = self._env(tmp_path)
        path = tmp_path / "access.yaml"
        path.write_text(POLICY)
        preview = self.invoke_command(["access", "sync", str(path), "--dry-run"], env=env)
        self.assert_success(preview)
        self.assert_output_contains(preview, "group:eng")
        check = ["access", "check", "alice", "lakehouse.raw.events", "optimize"]
        self.assert_exit_code(self.invoke_command(check, env=env), 1)  # nothing applied yet
        self.assert_success(self.invoke_command(["access", "sync", str(path), "--yes"], env=env))
        self.assert_success(self.invoke_command(check, env=env))

    def test_malformed_policy_file_exits_2_and_applies_nothing(self, tmp_path):
        env = self._env(tmp_path)
        path = tmp_path / "bad.yaml"
        path.write_text("policies:\n  - {principal: alice, resource: x, permissions: [fly]}")
        result = self.invoke_command(["access", "sync", str(path), "--yes"], env=env)
        self.assert_exit_code(result, 2)
        listed = self.json_output(
            self.invoke_command(["access", "list", "--format", "json"], env=env)
        )
        assert listed["policies"] == []

    def test_enforcement_denies_and_audits_cli_operations(self, tmp_path):
        env = self._env(tmp_path, PHLO_LAKEHOUSE_ACCESS_CONTROL="true")
        path = tmp_path / "access.yaml"
        path.write_text(POLICY)
        self.assert_success(self.invoke_command(["access", "sync", str(path), "--yes"], env=env))
        before = self.lakehouse.get_table("raw.events").table.metadata_location

        denied = self.invoke_command(
            ["vacuum", "raw.events", "--yes"], env={**env, "PHLO_LAKEHOUSE_PRINCIPAL": "alice"}
        )
        self.assert_exit_code(denied, 1)
        self.assert_output_contains(denied, "lacks permission 'vacuum'")
        assert self.lakehouse.get_table("raw.events").table.metadata_location == before

        allowed = self.invoke_command(
            ["optimize", "raw.events", "--yes"], env={**env, "PHLO_LAKEHOUSE_PRINCIPAL": "alice"}
        )
        self.assert_success(allowed)
        audit = self.json_output(
            self.invoke_command(["access", "audit", "--format", "json"], env=env)
        )
        assert [(r["operation"], r["outcome"]) for r in audit["records"]] == [
            ("vacuum", "denied"),
            ("optimize", "committed"),
        ]
        self.assert_success(self.invoke_command(["access", "verify"], env=env))

        with sqlite3.connect(tmp_path / "access.db") as conn:
            conn.execute("UPDATE phlo_audit_log SET outcome='committed' WHERE seq=1")
        tampered = self.invoke_command(["access", "verify"], env=env)
        self.assert_exit_code(tampered, 1)
        self.assert_output_contains(tampered, "record 1 was edited")
