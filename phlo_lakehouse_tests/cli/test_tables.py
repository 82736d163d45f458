"""``tables list|describe|stats`` on real tables, as text and as JSON, and their bad inputs."""

from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.testing.lakehouses import TableSeed


class TestTables(CLITestCase):
    tables = [TableSeed("raw.events", commits=3, rows_per_commit=100), TableSeed("mart.daily")]

    def test_list_shows_every_table(self):
        result = self.invoke_command(["tables", "list"])
        self.assert_success(result)
        self.assert_output_contains(result, "raw.events")
        self.assert_output_contains(result, "mart.daily")

    def test_list_json_is_one_document(self):
        result = self.invoke_command(["tables", "list", "--format", "json"])
        self.assert_success(result)
        assert self.json_output(result) == {
            "namespace": None,
            "ref": "main",
            "tables": ["mart.daily", "raw.events"],
        }

    def test_list_one_namespace(self):
        result = self.invoke_command(["tables", "list", "raw", "--format", "json"])
        self.assert_success(result)
        assert self.json_output(result)["tables"] == ["raw.events"]

    def test_format_is_accepted_before_the_command_too(self):
        result = self.invoke_command(["--format", "json", "tables", "list"])
        self.assert_success(result)
        assert len(self.json_output(result)["tables"]) == 2

    def test_list_unknown_namespace_exits_2(self):
        result = self.invoke_command(["tables", "list", "nope"])
        self.assert_exit_code(result, 2)
        assert result.stderr.startswith("error: namespace nope does not exist\nhint: ")

    def test_describe_shows_schema_partitioning_and_refs(self):
        result = self.invoke_command(["tables", "describe", "raw.events"])
        self.assert_success(result)
        for text in ("event_time", "timestamptz", "event_day", "day", "main", "branch"):
            self.assert_output_contains(result, text)

    def test_describe_json_matches_the_table(self):
        handle = self.lakehouse.get_table("raw.events")
        doc = self.json_output(self.invoke_command(["tables", "describe", "raw.events", "--json"]))
        assert doc["metadata_location"] == handle.table.metadata_location
        assert doc["snapshot_id"] == handle.snapshot_id
        assert [c["name"] for c in doc["schema"]] == [
            "event_id",
            "event_time",
            "user_id",
            "kind",
            "amount",
        ]
        assert doc["partition_spec"] == [
            {"name": "event_day", "source": "event_time", "transform": "day"}
        ]
        main = {"name": "main", "type": "branch", "snapshot_id": handle.snapshot_id}
        assert doc["refs"] == [main]

    def test_stats_fast_path_json(self):
        result = self.invoke_command(["tables", "stats", "raw.events", "--format", "json"])
        self.assert_success(result)
        doc = self.json_output(result)
        assert doc["mode"] == "fast"
        assert doc["row_count"] == 300
        assert doc["snapshot_count"] == 3
        assert doc["partition_count"] is None

    def test_stats_full_adds_partitions_and_histogram(self):
        doc = self.json_output(
            self.invoke_command(["tables", "stats", "raw.events", "--full", "--format", "json"])
        )
        assert doc["mode"] == "full"
        assert doc["partition_count"] == 4
        assert sum(doc["file_size_histogram"].values()) == doc["file_count"]

    def test_stats_full_as_text(self):
        result = self.invoke_command(["tables", "stats", "raw.events", "--full"])
        self.assert_success(result)
        self.assert_output_contains(result, "row_count:")
        self.assert_output_contains(result, "file sizes")

    def test_stats_on_a_tag(self):
        handle = self.lakehouse.get_table("raw.events")
        handle.table.manage_snapshots().create_tag(handle.snapshot_id, "v1").commit()
        doc = self.json_output(
            self.invoke_command(["tables", "stats", "raw.events", "--ref", "v1", "--json"])
        )
        assert (doc["ref"], doc["snapshot_id"]) == ("v1", handle.snapshot_id)


class TestTablesBadInput(CLITestCase):
    tables = ["raw.events"]

    def _fails_with(self, args, first_line):
        result = self.invoke_command(args)
        self.assert_exit_code(result, 2)
        lines = result.stderr.splitlines()
        assert lines[0] == first_line
        assert lines[1].startswith("hint: ")
        assert len(lines) == 2
        assert "Traceback" not in result.output
        assert result.stdout == ""

    def test_unknown_table(self):
        for command in ("describe", "stats"):
            self._fails_with(
                ["tables", command, "raw.nope"], "error: table raw.nope does not exist"
            )

    def test_unknown_namespace(self):
        self._fails_with(["tables", "stats", "nope.t"], "error: namespace nope does not exist")

    def test_unknown_ref(self):
        self._fails_with(
            ["tables", "describe", "raw.events", "--ref", "dev"],
            "error: table raw.events has no branch or tag 'dev' (refs: main)",
        )

    def test_malformed_ref(self):
        self._fails_with(
            ["tables", "stats", "raw.events", "--ref", "a b"],
            "error: ref 'a b' is not a valid branch or tag name",
        )

    def test_malformed_identifier(self):
        self._fails_with(
            ["tables", "describe", "events"],
            "error: table identifier 'events' has no namespace",
        )

    def test_unknown_table_as_json_prints_an_error_document(self):
        result = self.invoke_command(["tables", "stats", "raw.nope", "--format", "json"])
        self.assert_exit_code(result, 2)
        assert self.json_output(result)["error"] == {
            "type": "TableNotFound",
            "message": "table raw.nope does not exist",
            "hint": "list tables with `phlo-lakehouse tables list`",
            "exit_code": 2,
        }

    def test_unknown_option_is_one_error_line(self):
        result = self.invoke_command(["tables", "stats", "raw.events", "--bogus"])
        self.assert_exit_code(result, 2)
        error, hint = result.stderr.splitlines()
        assert error.startswith("error: No such option") and "--bogus" in error
        assert hint == "hint: see `lakehouse tables stats --help`"
