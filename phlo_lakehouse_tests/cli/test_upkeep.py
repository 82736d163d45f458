"""``deletes remove-dangling``, ``deletes rewrite``, ``statistics compute`` and ``retention`` on
real tables: previews
change nothing, ``--yes`` applies, bad flags exit 2 with one line and change nothing."""

import pytest

from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.testing.lakehouses import TableSeed
from phlo_lakehouse_tests.cli.conftest import table_state
from phlo_lakehouse_tests.operations.position_delete_helpers import (
    delete_positions,
    deleted_pairs,
    position_deletes_of,
)

TABLE = "demo.events"
COMMANDS = {
    "deletes remove-dangling": ["deletes", "remove-dangling", TABLE],
    "deletes rewrite": ["deletes", "rewrite", TABLE, "--min-input-files", "2"],
    "statistics compute": ["statistics", "compute", TABLE, "--column", "kind,user_id"],
    "retention": ["retention", TABLE, "--column", "event_time", "--older-than", "1d"],
}


class UpkeepCase(CLITestCase):
    tables = [TableSeed(TABLE, commits=3, rows_per_commit=40)]


class TestUpkeepCommands(UpkeepCase):
    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_dry_run_json_is_the_plan_and_changes_nothing(self, command):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command([*COMMANDS[command], "--dry-run", "--format", "json"])
        self.assert_success(result)
        [plan] = self.json_output(result)["results"]
        assert plan["dry_run"] is True and plan["committed"] is False
        assert table_state(self.lakehouse, TABLE) == before

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_without_yes_non_interactive_exits_2(self, command):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(COMMANDS[command])
        self.assert_exit_code(result, 2)
        assert result.stderr.startswith("error: ")
        assert table_state(self.lakehouse, TABLE) == before

    def test_statistics_compute_registers_ndvs(self):
        result = self.invoke_command([*COMMANDS["statistics compute"], "--yes", "--format", "json"])
        self.assert_success(result)
        [applied] = self.json_output(result)["results"]
        assert applied["details"]["ndv"] == {"kind": 3, "user_id": 97}
        assert len(self.lakehouse.get_table(TABLE).table.metadata.statistics) == 1

    def test_retention_deletes_every_row_older_than_the_cutoff(self):
        # demo rows are from January 2026; one day of retention deletes all of them
        result = self.invoke_command([*COMMANDS["retention"], "--yes", "--format", "json"])
        self.assert_success(result)
        [applied] = self.json_output(result)["results"]
        assert applied["figures"]["rows_to_delete"] == 120
        assert applied["figures"]["files_to_rewrite"] == 0
        assert self.lakehouse.get_table(TABLE).to_arrow().num_rows == 0

    def test_deletes_rewrite_compacts_position_deletes(self):
        handle = self.lakehouse.get_table(TABLE)
        paths = [f.path for f in live_files(handle.table, handle.snapshot).data]
        for r in range(3):
            handle = delete_positions(handle, {p: [r] for p in paths})
        rows, pairs = handle.to_arrow().num_rows, deleted_pairs(handle)
        result = self.invoke_command([*COMMANDS["deletes rewrite"], "--yes", "--format", "json"])
        self.assert_success(result)
        [applied] = self.json_output(result)["results"]
        after = self.lakehouse.get_table(TABLE)
        assert applied["figures"]["delete_files_to_rewrite"] == 3 * len(paths)
        assert len(position_deletes_of(after)) == len(paths)
        assert after.to_arrow().num_rows == rows and deleted_pairs(after) == pairs

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["deletes", "rewrite", TABLE, "--partition-filter", "nope = 1"], "partition_filter"),
            (["deletes", "rewrite", TABLE, "--delete-granularity", "row"], "'row' is not one of"),
            (["deletes", "rewrite", TABLE, "--target-file-size", "12XB"], "12XB"),
            (["deletes", "rewrite", TABLE, "--target-file-size", "1"], "--target-file-size='1'"),
            (["deletes", "rewrite", TABLE, "--max-file-group-size", "10"], "below 1.0 KiB"),
            (["retention", TABLE, "--column", "kind", "--older-than", "1d"], "timestamp or date"),
            (["retention", TABLE, "--column", "nope", "--older-than", "1d"], "unknown column"),
            (["retention", TABLE, "--column", "event_time", "--older-than", "-1d"], "negative"),
            (["retention", TABLE, "--column", "event_time", "--older-than", "0s"], "positive"),
            (["statistics", "compute", TABLE, "--column", "nope"], "unknown column 'nope'"),
        ],
    )
    def test_bad_input_exits_2_with_one_line_and_changes_nothing(self, args, message):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command([*args, "--yes"])
        self.assert_exit_code(result, 2)
        assert message in result.stderr.splitlines()[0]
        assert "Traceback" not in result.stderr
        assert table_state(self.lakehouse, TABLE) == before
