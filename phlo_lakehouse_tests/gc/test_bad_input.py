"""Must show 7 from Python: bad input fails with one line and a hint before anything is read or
deleted (the CLI's exit codes: cli/test_gc.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from phlo_lakehouse.errors import InvalidConfig, InvalidInput
from phlo_lakehouse.gc import NessieGCOperation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cutoffs": ["tomorrow"]}, "cutoffs='tomorrow' is not a cutoff policy"),
        ({"cutoffs": ["3", "5"]}, "cutoffs has two default policies"),
        ({"cutoffs": ["dev(=3"]}, "is not a regular expression"),
        ({"ref_regex": "[main"}, "ref_regex='[main' is not a regular expression"),
        ({"older_than": "12h"}, "older_than='12h' is under 24 hours"),
        ({"older_than": timedelta(hours=-1), "force": True}, "is negative"),
        ({"prefix_mismatch": "maybe"}, "prefix_mismatch='maybe' is not one of"),
        ({"threads": 0}, "threads=0 is not a whole number >= 1"),
        ({"now": "today"}, "now='today' is not a datetime"),
    ],
)
def test_bad_arguments_fail_on_construction(kwargs, message):
    with pytest.raises(InvalidInput) as info:
        NessieGCOperation(**kwargs)
    assert message in info.value.message and info.value.hint
    assert "\n" not in info.value.message


def test_a_defer_path_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="is not a file name"):
        NessieGCOperation(defer=tmp_path)


def test_a_catalog_that_is_not_nessie_is_refused_before_any_read(lakehouse):
    with pytest.raises(InvalidInput) as info:
        lakehouse.run_catalog(NessieGCOperation(), None, dry_run=True)
    assert info.value.message.startswith("Nessie GC needs a Nessie catalog, not the sql catalog")
    assert not isinstance(info.value, InvalidConfig) and info.value.exit_code == 2


def test_gc_runs_on_the_whole_catalog_not_on_one_ref(lakehouse):
    with pytest.raises(InvalidInput, match="acts on every reference of the catalog"):
        lakehouse.run_catalog(NessieGCOperation(), "main", dry_run=True)


def test_a_malformed_duration_cutoff_gets_the_policy_hint_not_the_duration_one():
    with pytest.raises(InvalidInput) as info:
        NessieGCOperation(cutoffs=["P3X"])
    assert info.value.message == "cutoffs='P3X' is not a cutoff policy"
    assert "REGEX=POLICY" in info.value.hint
