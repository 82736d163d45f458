"""``optimize``, ``expire``, ``vacuum`` and ``manifests rewrite`` on real tables: previews change
nothing on disk, ``--yes`` applies, JSON output is one document with the figures."""

import pytest

from phlo_lakehouse.demo import plant_orphans
from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.testing.lakehouses import TableSeed
from phlo_lakehouse_tests.cli.conftest import table_state

TABLE = "demo.events"
COMMANDS = {
    "optimize": ["optimize", TABLE],
    "expire": ["expire", TABLE, "--older-than", "0s"],
    "vacuum": ["vacuum", TABLE],
    "manifests rewrite": ["manifests", "rewrite", TABLE],
}


class MaintenanceCase(CLITestCase):
    # 6 appends x 4 day partitions: 24 small files in 6 manifests over 6 snapshots.
    tables = [TableSeed(TABLE, commits=6, rows_per_commit=50)]

    @pytest.fixture(autouse=True)
    def _orphans(self, cli_lakehouse):
        self.orphans = plant_orphans(self.lakehouse.get_table(TABLE), count=3, age_days=10)

    def rows(self):
        return sorted(self.lakehouse.get_table(TABLE).to_arrow()["event_id"].to_pylist())


class TestPreviewChangesNothing(MaintenanceCase):
    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_dry_run_leaves_metadata_and_files_alone(self, command):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command([*COMMANDS[command], "--dry-run"])
        self.assert_success(result)
        self.assert_output_contains(result, ": plan")
        self.assert_output_contains(result, "dry run: nothing changed")
        assert table_state(self.lakehouse, TABLE) == before

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_dry_run_json_is_the_plan(self, command):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command([*COMMANDS[command], "--dry-run", "--format", "json"])
        self.assert_success(result)
        doc = self.json_output(result)
        assert doc["dry_run"] is True
        [plan] = doc["results"]
        assert (plan["table"], plan["ref"], plan["committed"]) == (TABLE, "main", False)
        assert plan["snapshot_id_before"] == plan["snapshot_id_after"]
        assert table_state(self.lakehouse, TABLE) == before

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_without_yes_non_interactive_exits_2_and_changes_nothing(self, command):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(COMMANDS[command])
        self.assert_exit_code(result, 2)
        error, hint = result.stderr.splitlines()
        assert error.startswith("error: ") and error.endswith("pass --yes to apply")
        assert hint.startswith("hint: --dry-run")
        assert result.stdout == ""
        assert table_state(self.lakehouse, TABLE) == before

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_json_without_yes_also_needs_yes(self, command):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command([*COMMANDS[command], "--format", "json"], input="y\n")
        self.assert_exit_code(result, 2)
        assert self.json_output(result)["error"]["type"] == "ConfirmationRequired"
        assert table_state(self.lakehouse, TABLE) == before

    def test_yes_and_dry_run_together_are_refused(self):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(["optimize", TABLE, "--yes", "--dry-run"])
        self.assert_exit_code(result, 2)
        assert result.stderr.startswith("error: --yes and --dry-run exclude each other\n")
        assert table_state(self.lakehouse, TABLE) == before


class TestOptimize(MaintenanceCase):
    def test_yes_compacts_and_keeps_rows(self):
        rows = self.rows()
        result = self.invoke_command(["optimize", TABLE, "--yes", "--format", "json"])
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["committed"] is True
        assert done["figures"]["files_to_rewrite"] == 24
        assert done["figures"]["expected_output_files"] == 4
        stats = self.lakehouse.collect_stats(TABLE, full=True)
        assert stats.file_count == 4
        assert self.rows() == rows
        assert self.lakehouse.get_table(TABLE).snapshot_id == done["snapshot_id_after"]

    def test_yes_as_text_names_the_new_snapshot(self):
        result = self.invoke_command(["optimize", TABLE, "-y"])
        self.assert_success(result)
        head = self.lakehouse.get_table(TABLE).snapshot_id
        self.assert_output_contains(result, f"committed, main now at snapshot {head}")
        self.assert_output_contains(result, "files_to_rewrite:")

    def test_sort_by_implies_the_sort_strategy(self):
        result = self.invoke_command(
            ["optimize", TABLE, "--sort-by", "user_id,amount desc", "--dry-run", "--json"]
        )
        self.assert_success(result)
        [plan] = self.json_output(result)["results"]
        assert plan["details"]["strategy"] == "sort"
        assert plan["details"]["sort_keys"][0][0] == "user_id"

    def test_zorder(self):
        result = self.invoke_command(
            ["optimize", TABLE, "--zorder-by", "user_id", "--zorder-by", "amount", "--yes"]
        )
        self.assert_success(result)
        assert self.lakehouse.collect_stats(TABLE, full=True).file_count == 4

    def test_partition_filter_and_min_input_files(self):
        result = self.invoke_command(
            [
                "optimize",
                TABLE,
                "--dry-run",
                "--json",
                "--min-input-files",
                "2",
                "--partition-filter",
                "event_time >= '2026-01-03T00:00:00+00:00'",
            ]
        )
        self.assert_success(result)
        [plan] = self.json_output(result)["results"]
        assert plan["figures"]["partitions"] == 2
        assert plan["figures"]["files_to_rewrite"] == 12

    def test_target_size_rewrite_all_and_partial_progress(self):
        result = self.invoke_command(
            [
                "optimize",
                TABLE,
                "--target-file-size",
                "1MB",
                "--rewrite-all",
                "--partial-progress",
                "--yes",
                "--json",
            ]
        )
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["details"]["target_file_size"] == 1024 * 1024
        assert done["details"]["commits"] == 4

    @pytest.mark.parametrize(("mode", "stitched"), [("always", 4), ("never", 0)])
    def test_stitch_option_copies_row_groups_or_decodes(self, mode, stitched):
        rows = self.rows()
        result = self.invoke_command(["optimize", TABLE, "--stitch", mode, "--yes", "--json"])
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["details"]["stitched_groups"] == stitched
        assert done["details"]["decoded_groups"] == 4 - stitched
        assert self.rows() == rows

    def test_spark_rewrite_option_flags_reach_the_plan_and_the_commits(self):
        rows = self.rows()
        preview = self.invoke_command(
            ["optimize", TABLE, "--rewrite-job-order", "files-asc", "--dry-run", "--json"]
        )
        self.assert_success(preview)
        [plan] = self.json_output(preview)["results"]
        counts = [len(g["files"]) for g in plan["details"]["groups"]]
        assert counts == sorted(counts) and len(counts) == 4
        result = self.invoke_command(
            [
                "optimize", TABLE, "--partial-progress", "--max-commits", "2",
                "--max-failed-commits", "0", "--delete-file-threshold", "3",
                "--keep-dangling-deletes", "--use-commit-sequence-number", "--output-spec-id",
                "0", "--yes", "--json",
            ]
        )  # fmt: skip
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["details"]["commits"] == 2 and done["details"]["failed_commits"] == 0
        assert done["figures"]["dangling_delete_files"] == 0
        assert self.rows() == rows

    @pytest.mark.parametrize(
        ("flags", "message"),
        [
            (["--output-spec-id", "9"], "output_spec_id=9 is not a partition spec"),
            (["--rewrite-job-order", "random"], "'random' is not one of"),
            (["--max-commits", "0"], "0 is not in the range x>=1"),
        ],
    )
    def test_bad_rewrite_option_flags_exit_2_and_change_nothing(self, flags, message):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(["optimize", TABLE, *flags, "--yes"])
        self.assert_exit_code(result, 2)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert table_state(self.lakehouse, TABLE) == before

    def test_a_bad_stitch_mode_exits_2(self):
        result = self.invoke_command(["optimize", TABLE, "--stitch", "maybe", "--yes"])
        assert result.exit_code == 2
        assert "Traceback" not in result.output

    def test_a_selector_runs_on_every_matching_table(self):
        from phlo_lakehouse.demo import seed_demo_table

        seed_demo_table(self.lakehouse, "demo.clicks", commits=5, rows_per_commit=20)
        result = self.invoke_command(["optimize", "demo.*", "--yes", "--json"])
        self.assert_success(result)
        doc = self.json_output(result)
        assert [r["table"] for r in doc["results"]] == ["demo.clicks", TABLE]
        assert all(r["committed"] for r in doc["results"])


class TestExpire(MaintenanceCase):
    def test_yes_expires_all_but_the_retained_snapshots(self):
        result = self.invoke_command(
            ["expire", TABLE, "--older-than", "0s", "--retain-last", "2", "--yes", "--json"]
        )
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["figures"]["snapshots_to_expire"] == 4
        assert len(self.lakehouse.get_table(TABLE).table.snapshots()) == 2

    def test_defaults_keep_young_snapshots(self):
        result = self.invoke_command(["expire", TABLE, "--yes", "--json"])
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["figures"]["snapshots_to_expire"] == 0
        assert len(self.lakehouse.get_table(TABLE).table.snapshots()) == 6

    def test_keep_files_commits_without_deleting(self):
        before = set(table_state(self.lakehouse, TABLE).files)
        result = self.invoke_command(
            ["expire", TABLE, "--older-than", "0s", "--keep-files", "--yes"]
        )
        self.assert_success(result)
        after = set(table_state(self.lakehouse, TABLE).files)
        assert before <= after  # only a new metadata file was added
        assert len(self.lakehouse.get_table(TABLE).table.snapshots()) == 1


class TestVacuum(MaintenanceCase):
    def test_yes_deletes_exactly_the_orphans(self):
        rows = self.rows()
        before = set(table_state(self.lakehouse, TABLE).files)
        result = self.invoke_command(["vacuum", TABLE, "--yes", "--json"])
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["figures"]["orphan_files"] == 3
        assert sorted(done["details"]["orphan_files"]) == sorted(self.orphans)
        after = set(table_state(self.lakehouse, TABLE).files)
        assert before - after == {p.split("/events/", 1)[1] for p in self.orphans}
        assert self.rows() == rows

    def test_older_than_keeps_younger_orphans(self):
        result = self.invoke_command(["vacuum", TABLE, "--older-than", "30d", "--yes", "--json"])
        self.assert_success(result)
        assert self.json_output(result)["results"][0]["figures"]["orphan_files"] == 0

    def test_location_limits_the_scan(self):
        location = self.lakehouse.get_table(TABLE).table.location() + "/metadata"
        result = self.invoke_command(
            ["vacuum", TABLE, "--location", location, "--dry-run", "--json"]
        )
        self.assert_success(result)
        assert self.json_output(result)["results"][0]["figures"]["orphan_files"] == 0

    def test_force_allows_a_short_older_than(self):
        result = self.invoke_command(
            [
                "vacuum",
                TABLE,
                "--older-than",
                "1h",
                "--force",
                "--prefix-mismatch",
                "ignore",
                "--dry-run",
                "--json",
            ]
        )
        self.assert_success(result)
        assert self.json_output(result)["results"][0]["figures"]["orphan_files"] == 3


class TestManifestsRewrite(MaintenanceCase):
    def test_yes_clusters_manifests(self):
        rows = self.rows()
        result = self.invoke_command(
            ["manifests", "rewrite", TABLE, "--target-manifest-size", "8MB", "--yes", "--json"]
        )
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["figures"]["manifests_to_rewrite"] == 6
        handle = self.lakehouse.get_table(TABLE)
        assert len(handle.snapshot.manifests(handle.table.io)) == 1
        assert self.rows() == rows

    def test_rewrite_all_on_one_manifest(self):
        self.invoke_command(["manifests", "rewrite", TABLE, "--yes"])
        result = self.invoke_command(
            ["manifests", "rewrite", TABLE, "--rewrite-all", "--dry-run", "--json"]
        )
        assert self.json_output(result)["results"][0]["figures"]["manifests_to_rewrite"] == 1


class TestBadInputChangesNothing(MaintenanceCase):
    CASES = {
        "unknown table": (["optimize", "demo.nope", "--yes"], "error: table demo.nope does not"),
        "no match": (["vacuum", "nope.*", "--yes"], "error: no table matches 'nope.*'"),
        "unknown ref": (["expire", TABLE, "--ref", "dev", "--yes"], "error: table demo.events has"),
        "bad ref": (["vacuum", TABLE, "--ref", "-x", "--yes"], "error: ref '-x' is not a valid"),
        "bad duration (expire)": (
            ["expire", TABLE, "--older-than", "5x", "--yes"],
            "error: --older-than='5x' is not a duration",
        ),
        "bad duration (vacuum)": (
            ["vacuum", TABLE, "--older-than", "-3d", "--yes"],
            "error: --older-than='-3d' is negative",
        ),
        "young vacuum": (
            ["vacuum", TABLE, "--older-than", "2h", "--yes"],
            "error: --older-than 2h is under 24 hours",
        ),
        "bad size": (
            ["optimize", TABLE, "--target-file-size", "12XB", "--yes"],
            "error: --target-file-size='12XB' is not a size",
        ),
        "file size of one byte": (
            ["optimize", TABLE, "--target-file-size", "1", "--yes"],
            "error: --target-file-size='1' (1 B) is below 1.0 KiB",
        ),
        "file size of a petabyte": (
            ["optimize", TABLE, "--target-file-size", "1024TB", "--yes"],
            "error: --target-file-size='1024TB' (1024.0 TiB) is above 64.0 GiB",
        ),
        "manifest size of 100 bytes": (
            ["manifests", "rewrite", TABLE, "--target-manifest-size", "100", "--yes"],
            "error: --target-manifest-size='100' (100 B) is below 1.0 KiB",
        ),
        "bad manifest size": (
            ["manifests", "rewrite", TABLE, "--target-manifest-size", "0", "--yes"],
            "error: --target-manifest-size='0' must be positive",
        ),
        "bad min input files": (
            ["optimize", TABLE, "--min-input-files", "0", "--yes"],
            "error: Invalid value for '--min-input-files'",
        ),
        "bad retain last": (
            ["expire", TABLE, "--retain-last", "many", "--yes"],
            "error: Invalid value for '--retain-last'",
        ),
        "strategy conflict": (
            ["optimize", TABLE, "--strategy", "binpack", "--sort-by", "user_id", "--yes"],
            "error: --sort-by needs --strategy sort",
        ),
        "unknown sort column": (
            ["optimize", TABLE, "--sort-by", "nope", "--yes"],
            "error: --sort-by column 'nope' is not in the table",
        ),
        "bad filter": (
            ["optimize", TABLE, "--partition-filter", "event_time >>", "--yes"],
            "error: partition_filter 'event_time >>' is not a valid expression",
        ),
        "bad prefix mode": (
            ["vacuum", TABLE, "--prefix-mismatch", "maybe", "--yes"],
            "error: Invalid value for '--prefix-mismatch'",
        ),
        "location outside": (
            ["vacuum", TABLE, "--location", "file:///tmp", "--yes"],
            "error: location file:///tmp is not inside the location of demo.events",
        ),
    }

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_exits_2_with_one_error_line(self, case):
        args, expected = self.CASES[case]
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(args)
        self.assert_exit_code(result, 2)
        lines = result.stderr.splitlines()
        assert lines[0].startswith(expected), lines
        assert len(lines) == 2 and lines[1].startswith("hint: ")
        assert "Traceback" not in result.output
        assert table_state(self.lakehouse, TABLE) == before
