"""``snapshots list|rollback|set-current|tag|branch`` on real tables through `SnapshotManager`."""

import pytest

from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.testing.lakehouses import TableSeed
from phlo_lakehouse_tests.cli.conftest import table_state

TABLE = "raw.events"


class SnapshotCase(CLITestCase):
    tables = [TableSeed(TABLE, commits=3, rows_per_commit=10)]

    @pytest.fixture(autouse=True)
    def _ids(self, cli_lakehouse):
        snapshots = sorted(
            self.lakehouse.get_table(TABLE).table.snapshots(), key=lambda s: s.sequence_number
        )
        self.first, self.second, self.head = (s.snapshot_id for s in snapshots)

    def refs(self):
        metadata = self.lakehouse.get_table(TABLE).table.metadata
        return {name: ref.snapshot_id for name, ref in metadata.refs.items()}


class TestList(SnapshotCase):
    def test_json_lists_every_snapshot_newest_first(self):
        result = self.invoke_command(["snapshots", "list", TABLE, "--format", "json"])
        self.assert_success(result)
        doc = self.json_output(result)
        assert [s["snapshot_id"] for s in doc["snapshots"]] == [self.head, self.second, self.first]
        assert doc["snapshots"][0]["refs"] == ["main"]

    def test_text_shows_records_and_refs(self):
        result = self.invoke_command(["snapshots", "list", TABLE])
        self.assert_success(result)
        first_row = result.stdout.splitlines()[1].split()
        assert first_row[0] == str(self.head) and first_row[-2:] == ["30", "main"]

    def test_ref_history(self):
        self.lakehouse.get_table(TABLE).table.manage_snapshots().create_tag(
            self.second, "v2"
        ).commit()
        doc = self.json_output(
            self.invoke_command(["snapshots", "list", TABLE, "--ref", "v2", "--json"])
        )
        assert [s["snapshot_id"] for s in doc["snapshots"]] == [self.second, self.first]


class TestChanges(SnapshotCase):
    def test_tag_preview_then_apply(self):
        args = ["snapshots", "tag", TABLE, "v1", "--snapshot", str(self.first)]
        before = table_state(self.lakehouse, TABLE)
        self.assert_success(self.invoke_command([*args, "--dry-run"]))
        assert table_state(self.lakehouse, TABLE) == before
        result = self.invoke_command([*args, "--max-ref-age", "30d", "--yes", "--json"])
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["operation"] == "create_ref" and done["committed"] is True
        assert self.refs()["v1"] == self.first
        ref = self.lakehouse.get_table(TABLE).table.metadata.refs["v1"]
        assert ref.max_ref_age_ms == 30 * 86400 * 1000

    def test_branch_with_retention(self):
        result = self.invoke_command(
            [
                "snapshots",
                "branch",
                TABLE,
                "dev",
                "--max-snapshot-age",
                "7d",
                "--min-snapshots-to-keep",
                "2",
                "--yes",
            ]
        )
        self.assert_success(result)
        ref = self.lakehouse.get_table(TABLE).table.metadata.refs["dev"]
        assert (ref.snapshot_id, ref.min_snapshots_to_keep) == (self.head, 2)
        assert ref.max_snapshot_age_ms == 7 * 86400 * 1000

    def test_rollback_to_snapshot(self):
        result = self.invoke_command(
            ["snapshots", "rollback", TABLE, "--to-snapshot", str(self.first), "--yes"]
        )
        self.assert_success(result)
        self.assert_output_contains(result, f"main now at snapshot {self.first}")
        assert self.refs()["main"] == self.first
        assert self.lakehouse.get_table(TABLE).to_arrow().num_rows == 10

    def test_rollback_to_timestamp(self):
        snapshot = self.lakehouse.get_table(TABLE).table.snapshot_by_id(self.second)
        from datetime import UTC, datetime

        moment = datetime.fromtimestamp((snapshot.timestamp_ms + 1) / 1000, tz=UTC).isoformat()
        result = self.invoke_command(
            ["snapshots", "rollback", TABLE, "--to-timestamp", moment, "--dry-run", "--json"]
        )
        self.assert_success(result)
        assert self.json_output(result)["results"][0]["dry_run"] is True
        assert self.refs()["main"] == self.head

    def test_set_current_on_a_branch(self):
        self.invoke_command(["snapshots", "branch", TABLE, "dev", "--yes"])
        result = self.invoke_command(
            ["snapshots", "set-current", TABLE, str(self.first), "--ref", "dev", "--yes"]
        )
        self.assert_success(result)
        assert self.refs() == {"main": self.head, "dev": self.first}

    def test_without_yes_changes_nothing(self):
        before = table_state(self.lakehouse, TABLE)
        for args in (
            ["tag", TABLE, "v1"],
            ["branch", TABLE, "dev"],
            ["rollback", TABLE, "--to-snapshot", str(self.first)],
            ["set-current", TABLE, str(self.first)],
        ):
            result = self.invoke_command(["snapshots", *args])
            self.assert_exit_code(result, 2)
            assert result.stderr.splitlines()[0].endswith("pass --yes to apply")
        assert table_state(self.lakehouse, TABLE) == before


class TestBadInput(SnapshotCase):
    CASES = {
        "unknown snapshot": (
            ["set-current", TABLE, "123", "--yes"],
            "error: table raw.events has no snapshot 123",
        ),
        "not a snapshot id": (
            ["set-current", TABLE, "abc", "--yes"],
            "error: Invalid value for 'SNAPSHOT_ID'",
        ),
        "no rollback target": (
            ["rollback", TABLE, "--yes"],
            "error: rollback needs exactly one of",
        ),
        "bad timestamp": (
            ["rollback", TABLE, "--to-timestamp", "yesterday", "--yes"],
            "error: timestamp='yesterday' is not a timestamp",
        ),
        "bad tag name": (["tag", TABLE, "v 1", "--yes"], "error: ref 'v 1' is not a valid"),
        "bad age": (
            ["tag", TABLE, "v1", "--max-ref-age", "soon", "--yes"],
            "error: --max-ref-age='soon' is not a duration",
        ),
        "unknown ref": (["branch", TABLE, "x", "--ref", "nope", "--yes"], "error: table raw"),
        "unknown table": (["list", "raw.nope"], "error: table raw.nope does not exist"),
        "existing tag": (["branch", TABLE, "main", "--yes"], "error: "),
    }

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_exits_2_and_changes_nothing(self, case):
        args, expected = self.CASES[case]
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(["snapshots", *args])
        self.assert_exit_code(result, 2)
        lines = result.stderr.splitlines()
        assert lines[0].startswith(expected) and len(lines) == 2, lines
        assert table_state(self.lakehouse, TABLE) == before
