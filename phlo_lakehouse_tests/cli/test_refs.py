"""``refs list|create|delete|diff|merge``: refused on non-Nessie catalogs; against the real
Nessie server (shared: every test uses references and a namespace of its own)."""

import pytest

from phlo_lakehouse.demo import demo_rows, demo_schema
from phlo_lakehouse.testing.cli import CLITestCase


class TestRefsNeedNessie(CLITestCase):
    @pytest.mark.parametrize(
        "args", [["list"], ["create", "dev", "--yes"], ["diff", "main", "dev"]]
    )
    def test_exit_2_on_a_sql_catalog(self, args):
        result = self.invoke_command(["refs", *args])
        self.assert_exit_code(result, 2)
        error, hint = result.stderr.splitlines()
        assert error.startswith("error: the sql catalog 'lakehouse'") and "no Nessie" in error
        assert hint.startswith("hint: ")


@pytest.mark.nessie
@pytest.mark.timeout(300)
class TestRefsOnNessie(CLITestCase):
    @pytest.fixture(autouse=True)
    def cli_lakehouse(self, nessie_lakehouse, unique_name):
        self.lakehouse = nessie_lakehouse
        self.nessie = nessie_lakehouse.nessie
        self.branch = f"dev_{unique_name}"
        self.namespace = unique_name
        yield nessie_lakehouse
        for ref in self.nessie.list():
            if ref.name in (self.branch, f"tag_{unique_name}"):
                self.nessie.delete(ref.name)

    def heads(self):
        return {r.name: r.hash for r in self.nessie.list()}

    def write_on_branch(self):
        catalog = self.lakehouse.catalog(self.branch)
        catalog.create_namespace_if_not_exists(self.namespace)
        table = catalog.create_table(f"{self.namespace}.events", schema=demo_schema())
        table.append(demo_rows(0, 10))

    def test_create_preview_then_apply_then_list(self):
        result = self.invoke_command(["refs", "create", self.branch, "--dry-run", "--json"])
        self.assert_success(result)
        assert self.json_output(result)["dry_run"] is True
        assert self.branch not in self.heads()
        self.assert_success(self.invoke_command(["refs", "create", self.branch, "--yes"]))
        assert self.branch in self.heads()
        listed = self.json_output(self.invoke_command(["refs", "list", "--json"]))["refs"]
        assert {"name": self.branch, "kind": "BRANCH"}.items() <= next(
            r for r in listed if r["name"] == self.branch
        ).items()

    def test_tag(self):
        tag = self.branch.replace("dev_", "tag_")
        self.assert_success(self.invoke_command(["refs", "create", tag, "--tag", "-y"]))
        assert next(r for r in self.nessie.list() if r.name == tag).kind == "TAG"

    def test_diff_and_merge(self):
        self.invoke_command(["refs", "create", self.branch, "--yes"])
        self.write_on_branch()
        diff = self.json_output(
            self.invoke_command(["refs", "diff", "main", self.branch, "--json"])
        )
        assert {"table": f"{self.namespace}.events", "change": "added"}.items() <= next(
            c for c in diff["changes"] if c["table"] == f"{self.namespace}.events"
        ).items()

        main_before = self.heads()["main"]
        preview = self.invoke_command(["refs", "merge", self.branch, "--dry-run", "--json"])
        self.assert_success(preview)
        assert self.json_output(preview)["conflicts"] == []
        assert self.heads()["main"] == main_before

        refused = self.invoke_command(["refs", "merge", self.branch])
        self.assert_exit_code(refused, 2)
        assert self.heads()["main"] == main_before

        merged = self.invoke_command(["refs", "merge", self.branch, "--yes", "--json"])
        self.assert_success(merged)
        assert self.json_output(merged)["applied"] is True
        merged_table = self.lakehouse.get_table(f"{self.namespace}.events", "main")
        assert merged_table.to_arrow().num_rows == 10

    def test_delete(self):
        self.invoke_command(["refs", "create", self.branch, "--yes"])
        self.assert_exit_code(self.invoke_command(["refs", "delete", self.branch]), 2)
        assert self.branch in self.heads()
        self.assert_success(self.invoke_command(["refs", "delete", self.branch, "--yes"]))
        assert self.branch not in self.heads()

    def test_assign_previews_then_moves_the_branch(self):
        self.invoke_command(["refs", "create", self.branch, "--yes"])
        self.write_on_branch()
        moved_from = self.heads()[self.branch]
        assert moved_from != self.heads()["main"]
        preview = self.invoke_command(["refs", "assign", self.branch, "--to", "main", "--dry-run"])
        self.assert_success(preview)
        assert self.heads()[self.branch] == moved_from
        done = self.invoke_command(["refs", "assign", self.branch, "--to", "main", "-y", "--json"])
        self.assert_success(done)
        document = self.json_output(done)
        assert (document["hash_before"], document["dry_run"]) == (moved_from, False)
        assert self.heads()[self.branch] == self.heads()["main"] == document["hash_after"]

    @pytest.mark.parametrize(
        "args, expected",
        [
            (["delete", "nope_xyz", "--yes"], "error: Nessie reference 'nope_xyz' does not exist"),
            (["delete", "main", "--yes"], "error: main cannot be deleted"),
            (["diff", "main", "nope_xyz"], "error: Nessie reference 'nope_xyz' does not exist"),
            (["create", "x y", "--yes"], "error: ref 'x y' is not a valid branch or tag name"),
            (["merge", "nope_xyz", "--yes"], "error: Nessie reference 'nope_xyz' does not exist"),
        ],
    )
    def test_bad_input_exits_2(self, args, expected):
        result = self.invoke_command(["refs", *args])
        self.assert_exit_code(result, 2)
        assert result.stderr.startswith(expected + "\n") or result.stderr.startswith(expected)
        heads = self.heads()  # the server is shared: check only the names these cases touch
        assert "main" in heads and "nope_xyz" not in heads and "x y" not in heads

    def test_table_commands_follow_the_nessie_ref(self):
        self.invoke_command(["refs", "create", self.branch, "--yes"])
        self.write_on_branch()
        name = f"{self.namespace}.events"
        listed = self.invoke_command(
            ["tables", "list", self.namespace, "--ref", self.branch, "--json"]
        )
        assert self.json_output(listed)["tables"] == [name]
        missing = self.invoke_command(["tables", "stats", name])
        self.assert_exit_code(missing, 2)
        history = self.invoke_command(["snapshots", "list", name, "--ref", self.branch, "--json"])
        assert len(self.json_output(history)["snapshots"]) == 1

    def test_expire_on_nessie_needs_keep_files(self):
        self.invoke_command(["refs", "create", self.branch, "--yes"])
        self.write_on_branch()
        name = f"{self.namespace}.events"
        refused = self.invoke_command(["expire", name, "--ref", self.branch, "--yes"])
        self.assert_exit_code(refused, 2)
        error, hint = refused.stderr.splitlines()
        assert error.startswith("error: expire reclaims nothing on a Nessie catalog")
        assert hint.startswith("hint: run `phlo-lakehouse gc --cutoff P5D`")
        kept = self.invoke_command(
            ["expire", name, "--ref", self.branch, "--keep-files", "--dry-run", "--json"]
        )
        self.assert_success(kept)
