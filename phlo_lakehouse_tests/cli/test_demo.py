"""``demo seed``: previews, creates the fragmented demo table with orphans, refuses to clobber."""

from pathlib import Path
from urllib.parse import urlparse

from phlo_lakehouse.testing.cli import CLITestCase


class TestDemoSeed(CLITestCase):
    def _seed(self, *args):
        return self.invoke_command(
            ["demo", "seed", "--commits", "4", "--rows-per-commit", "25", "--orphans", "2", *args]
        )

    def test_dry_run_creates_nothing(self):
        result = self._seed("--dry-run", "--json")
        self.assert_success(result)
        doc = self.json_output(result)
        assert doc["dry_run"] is True and doc["rows"] == 100
        assert self.lakehouse.list_tables() == []

    def test_without_yes_non_interactive_exits_2(self):
        result = self._seed()
        self.assert_exit_code(result, 2)
        assert result.stderr.splitlines()[0].endswith("pass --yes to apply")
        assert self.lakehouse.list_tables() == []

    def test_yes_creates_the_fragmented_table_and_orphans(self):
        result = self._seed("--yes", "--json")
        self.assert_success(result)
        doc = self.json_output(result)
        assert doc["orphan_files"] == 2
        stats = self.lakehouse.collect_stats("demo.events")
        assert (stats.row_count, stats.snapshot_count) == (100, 4)
        orphans = Path(urlparse(doc["location"]).path) / "data" / "orphans"
        assert len(list(orphans.iterdir())) == 2
        vacuum = self.invoke_command(["vacuum", "demo.events", "--dry-run", "--json"])
        assert self.json_output(vacuum)["results"][0]["figures"]["orphan_files"] == 2

    def test_an_existing_table_needs_replace(self):
        self.assert_success(self._seed("--yes"))
        snapshot = self.lakehouse.get_table("demo.events").snapshot_id
        result = self._seed("--yes")
        self.assert_exit_code(result, 2)
        assert result.stderr.splitlines() == [
            "error: table demo.events already exists",
            "hint: pass --replace to drop and re-create it",
        ]
        assert self.lakehouse.get_table("demo.events").snapshot_id == snapshot
        self.assert_success(self._seed("--replace", "--yes", "--table", "demo.events"))
        assert self.lakehouse.get_table("demo.events").snapshot_id != snapshot

    def test_other_table_name(self):
        result = self.invoke_command(
            ["demo", "seed", "--table", "lab.trial", "--commits", "2", "--orphans", "0", "-y"]
        )
        self.assert_success(result)
        self.assert_output_contains(result, "lab.trial")
        assert [str(t) for t in self.lakehouse.list_tables()] == ["lab.trial"]
