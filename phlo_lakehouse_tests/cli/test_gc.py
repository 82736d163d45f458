"""``phlo-lakehouse gc`` and ``gc apply-deferred`` through the real command group, against the GC
tests' own Nessie (S3 on moto): bad input exits 2 before anything is deleted (Must show 7), a dry
run lists exactly what the real run deletes, and deferred mode round-trips through a review
(Must show 5)."""

from __future__ import annotations

import json
import time

import pytest

from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse_tests.gc.histories import History, commit_table_pointer
from phlo_lakehouse_tests.gc.oracle import bucket_files, put, s3_client

FAST = ["--older-than", "1s", "--force"]


class TestGCNeedsNessie(CLITestCase):
    def test_exit_2_on_a_sql_catalog(self):
        result = self.invoke_command(["gc", "--dry-run"])
        self.assert_exit_code(result, 2)
        error, hint = result.stderr.splitlines()
        assert error.startswith("error: gc needs a Nessie catalog, not the sql catalog")
        assert hint.startswith("hint: point the CLI at Nessie")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--cutoff", "yesterday"], "error: --cutoff='yesterday' is not a cutoff policy"),
            (["--cutoff", "dev[=5"], "error: --cutoff 'dev[=5'="),
            (["--ref-regex", "(main"], "error: --ref-regex='(main' is not a regular expression"),
            (["--older-than", "2h"], "error: --older-than 2h is under 24 hours"),
            (["--older-than", "soon"], "error: --older-than='soon' is not a duration"),
        ],
    )
    def test_malformed_options_exit_2_with_one_line_and_a_hint(self, args, message):
        result = self.invoke_command(["gc", *args, "--dry-run"])
        self.assert_exit_code(result, 2)
        error, hint = result.stderr.splitlines()
        assert error.startswith(message) and hint.startswith("hint: ")
        assert "Traceback" not in result.output


@pytest.mark.nessie
@pytest.mark.moto
@pytest.mark.timeout(600)
class TestGCOnNessie(CLITestCase):
    @pytest.fixture(autouse=True)
    def cli_lakehouse(self, gc_nessie, s3_endpoint):
        gc_nessie.reset()
        self.lakehouse = gc_lakehouse = gc_nessie.lakehouse()
        self.bucket = gc_nessie.bucket
        self.s3 = s3_client(s3_endpoint)
        self.history = History(gc_lakehouse)
        yield gc_lakehouse

    def build(self):
        """A table with four commits on main and an orphan, all older than 1 s."""
        location = self.history.create("main", "events", batches=3)
        self.orphan = f"{location}/data/orphan.parquet"
        put(self.s3, self.orphan)
        time.sleep(1.5)
        return location

    def files(self):
        return set(bucket_files(self.s3, self.bucket))

    def test_unknown_ref_regex_exits_2_and_deletes_nothing(self):
        self.build()
        before = self.files()
        result = self.invoke_command(["gc", "--ref-regex", "release-.*", *FAST, "--yes"])
        self.assert_exit_code(result, 2)
        error, hint = result.stderr.splitlines()
        assert "ref_regex 'release-.*' matches no Nessie reference (references: main)" in error
        assert hint.startswith("hint: the regular expression must match whole names")
        assert self.files() == before

    def test_a_location_the_credentials_cannot_list_exits_2_and_deletes_nothing(self):
        location = self.build()
        real = self.lakehouse.catalog("main").load_table("gc.events").metadata_location
        bucket, _, key = real.removeprefix("s3://").partition("/")
        metadata = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        metadata["location"] = "s3://no-such-bucket-gc/elsewhere/t"
        planted = f"s3://{self.bucket}/planted/00000-x.metadata.json"
        put(self.s3, planted, json.dumps(metadata).encode())
        commit_table_pointer(self.lakehouse, "main", "gc.elsewhere", planted)
        before = self.files()
        result = self.invoke_command(["gc", "--cutoff", "1", *FAST, "--yes"])
        self.assert_exit_code(result, 2)
        error, hint = result.stderr.splitlines()
        assert error.startswith(
            "error: the catalog's storage credentials cannot list s3://no-such-bucket-gc/"
        )
        assert hint.startswith("hint: nothing was deleted")
        assert self.files() == before and self.orphan in before
        assert location  # the real table's files, orphan included, are all still there

    def test_dry_run_lists_exactly_what_the_real_run_deletes(self):
        self.build()
        before = self.files()
        preview = self.invoke_command(["gc", "--cutoff", "1", *FAST, "--dry-run", "--json"])
        self.assert_success(preview)
        planned = self.json_output(preview)
        assert planned["dry_run"] is True and self.files() == before
        listed = set(planned["details"]["candidate_files"])
        assert self.orphan in listed and planned["figures"]["candidates"] == len(listed)
        applied = self.invoke_command(["gc", "--cutoff", "1", *FAST, "--yes", "--json"])
        self.assert_success(applied)
        assert before - self.files() == listed
        assert self.json_output(applied)["figures"]["deleted"] == len(listed)

    def test_deferred_candidates_round_trip_through_a_review(self, tmp_path):
        self.build()
        old_commit = self.lakehouse.nessie.log("main")[1].hash
        before = self.files()
        deferred = tmp_path / "candidates.jsonl"
        written = self.invoke_command(["gc", "--cutoff", "1", *FAST, "--defer", str(deferred)])
        self.assert_success(written)
        assert f"candidates written to {deferred}" in written.stdout
        assert self.files() == before  # deferring deletes nothing
        header, *lines = deferred.read_text().splitlines()
        candidates = [json.loads(line)["uri"] for line in lines]
        assert json.loads(header)["figures"]["candidates"] == len(candidates) > 2
        # Review: keep one file by deleting its line; meanwhile a tag makes an old commit live.
        kept = next(uri for uri in candidates if uri.endswith(".parquet"))
        deferred.write_text("\n".join([header, *(x for x in lines if kept not in x)]) + "\n")
        self.lakehouse.nessie.create_tag("audit", "main", hash=old_commit)

        preview = self.invoke_command(
            ["gc", "apply-deferred", str(deferred), "--dry-run", "--json"]
        )
        self.assert_success(preview)
        planned = self.json_output(preview)["figures"]
        assert planned["became_live"] > 0 and self.files() == before
        applied = self.invoke_command(["gc", "apply-deferred", str(deferred), "--yes", "--json"])
        self.assert_success(applied)
        figures = self.json_output(applied)["figures"]
        deleted = before - self.files()
        assert len(deleted) == figures["deleted"] == planned["files_to_delete"]
        assert deleted <= set(candidates) - {kept}
        assert figures["became_live"] == len(candidates) - 1 - len(deleted)
        audit = self.lakehouse.get_table("gc.events", "audit").to_arrow()
        assert audit.num_rows == 6  # the tagged commit (two of three appends) still reads

    def test_apply_deferred_refuses_a_file_with_a_path_outside_the_table_locations(self, tmp_path):
        self.build()
        deferred = tmp_path / "candidates.jsonl"
        self.assert_success(
            self.invoke_command(["gc", "--cutoff", "1", *FAST, "--defer", str(deferred)])
        )
        outside = f"s3://{self.bucket}/elsewhere/precious.parquet"
        put(self.s3, outside)
        line = json.dumps({"uri": outside, "size": 6, "modified": "2026-01-01T00:00:00+00:00"})
        deferred.write_text(deferred.read_text() + line + "\n")
        before = self.files()
        result = self.invoke_command(["gc", "apply-deferred", str(deferred), "--yes"])
        self.assert_exit_code(result, 2)
        assert "is outside every base location the GC listed" in result.stderr
        assert self.files() == before
