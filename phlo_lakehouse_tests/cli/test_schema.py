"""``schema show|diff|export|evolve|check`` on real tables through `SchemaManager`."""

import pytest

from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.testing.lakehouses import TableSeed
from phlo_lakehouse_tests.cli.conftest import table_state

TABLE = "raw.events"
EVOLVE = [
    "schema", "evolve", TABLE, "--add", "country:string", "--rename", "kind=event_kind",
    "--widen", "user_id:long",
]  # fmt: skip


class SchemaCase(CLITestCase):
    tables = [TableSeed(TABLE, commits=1, rows_per_commit=10)]

    def columns(self):
        return [f.name for f in self.lakehouse.get_table(TABLE).table.schema().fields]


class TestReads(SchemaCase):
    def test_show_json(self):
        doc = self.json_output(self.invoke_command(["schema", "show", TABLE, "--json"]))
        assert (doc["schema_id"], doc["schema_ids"]) == (0, [0])
        assert [f["name"] for f in doc["fields"]] == self.columns()
        assert doc["fields"][0] == {
            "id": 1,
            "name": "event_id",
            "type": "long",
            "required": False,
            "doc": None,
        }

    def test_show_text(self):
        result = self.invoke_command(["schema", "show", TABLE])
        self.assert_success(result)
        self.assert_output_contains(result, "event_time  timestamptz")

    def test_export_formats(self):
        sql = self.invoke_command(["schema", "export", TABLE, "--as", "sql", "--dialect", "trino"])
        self.assert_success(sql)
        assert sql.stdout.startswith("CREATE TABLE iceberg.raw.events (")
        assert "partitioning = ARRAY['day(event_time)']" in sql.stdout
        markdown = self.invoke_command(["schema", "export", TABLE])
        self.assert_output_contains(markdown, "event_id")
        doc = self.json_output(
            self.invoke_command(["schema", "export", TABLE, "--as", "python", "--json"])
        )
        assert doc["as"] == "python" and "NestedField" in doc["text"]

    def test_diff_without_history_is_empty(self):
        doc = self.json_output(self.invoke_command(["schema", "diff", TABLE, "--json"]))
        assert doc["changes"] == []


class TestEvolve(SchemaCase):
    def test_dry_run_changes_nothing(self):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command([*EVOLVE, "--dry-run", "--json"])
        self.assert_success(result)
        [plan] = self.json_output(result)["results"]
        assert plan["figures"]["columns_added"] == 1 and plan["dry_run"] is True
        assert table_state(self.lakehouse, TABLE) == before

    def test_without_yes_exits_2(self):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(EVOLVE)
        self.assert_exit_code(result, 2)
        assert result.stderr.splitlines()[0].endswith("pass --yes to apply")
        assert table_state(self.lakehouse, TABLE) == before

    def test_yes_commits_then_diff_shows_it(self):
        result = self.invoke_command([*EVOLVE, "--yes", "--json"])
        self.assert_success(result)
        [done] = self.json_output(result)["results"]
        assert done["figures"]["schema_id_after"] == 1
        assert self.columns() == [
            "event_id",
            "event_time",
            "user_id",
            "event_kind",
            "amount",
            "country",
        ]
        diff = self.json_output(self.invoke_command(["schema", "diff", TABLE, "--json"]))
        kinds = {(c["kind"], c["after"]) for c in diff["changes"]}
        assert kinds == {("type_changed", "long"), ("renamed", "event_kind"), ("added", "country")}
        text = self.invoke_command(["schema", "diff", TABLE, "--from", "0", "--to", "1"])
        self.assert_output_contains(text, "schema 0 -> 1")

    def test_drop_and_make_optional(self):
        result = self.invoke_command(["schema", "evolve", TABLE, "--drop", "amount", "-y"])
        self.assert_success(result)
        assert "amount" not in self.columns()


class TestCheck(SchemaCase):
    def test_compatible_exits_0(self):
        result = self.invoke_command(["schema", "check", TABLE, "--add", "country:string"])
        self.assert_success(result)
        self.assert_output_contains(result, "compatible under BACKWARD")

    def test_breaking_exits_1_with_the_reasons(self):
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(
            ["schema", "check", TABLE, "--widen", "user_id:long", "--mode", "forward", "--json"]
        )
        self.assert_exit_code(result, 1)
        doc = self.json_output(result)
        assert doc["compatible"] is False and doc["mode"] == "FORWARD"
        assert doc["breaking"][0]["path"] == "user_id"
        assert table_state(self.lakehouse, TABLE) == before


class TestBadInput(SchemaCase):
    CASES = {
        "malformed add": (["evolve", TABLE, "--add", "country", "-y"], "error: --add 'country'"),
        "malformed rename": (["evolve", TABLE, "--rename", "a", "-y"], "error: --rename 'a'"),
        "unknown type": (["evolve", TABLE, "--add", "x:blob", "-y"], "error: x: 'blob' is not"),
        "unknown column": (["evolve", TABLE, "--drop", "nope", "-y"], "error: table raw.events"),
        "narrowing": (["evolve", TABLE, "--widen", "event_id:int", "-y"], "error: "),
        "no change": (["evolve", TABLE, "-y"], "error: no schema change given"),
        "unknown schema id": (["diff", TABLE, "--from", "7"], "error: "),
        "unknown mode": (["check", TABLE, "--mode", "sideways"], "error: Invalid value"),
        "unknown table": (["show", "raw.nope"], "error: table raw.nope does not exist"),
        "bad ref": (["export", TABLE, "--ref", "dev"], "error: table raw.events has no branch"),
    }

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_exits_2_and_changes_nothing(self, case):
        args, expected = self.CASES[case]
        before = table_state(self.lakehouse, TABLE)
        result = self.invoke_command(["schema", *args])
        self.assert_exit_code(result, 2)
        lines = result.stderr.splitlines()
        assert lines[0].startswith(expected) and len(lines) == 2, lines
        assert table_state(self.lakehouse, TABLE) == before
