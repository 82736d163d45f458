"""Cutoff policies and per-reference rules: the forms Nessie GC accepts, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.gc.cutoff import CutoffRules, compile_ref_regex, parse_cutoff

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind", "commits", "instant"),
    [
        ("NONE", "none", None, None),
        ("none", "none", None, None),
        ("5", "commits", 5, None),
        ("P10D", "instant", None, NOW - timedelta(days=10)),
        ("PT36H", "instant", None, NOW - timedelta(hours=36)),
        ("36h", "instant", None, NOW - timedelta(hours=36)),
        ("2026-02-01T00:00:00Z", "instant", None, datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01T01:00:00+01:00", "instant", None, datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01", "instant", None, datetime(2026, 2, 1, tzinfo=UTC)),
    ],
)
def test_policies_parse(text, kind, commits, instant):
    policy = parse_cutoff(text, reference_time=NOW)
    assert (policy.kind, policy.commits, policy.instant) == (kind, commits, instant)


@pytest.mark.parametrize("text", ["", "  ", "0", "-3", "P", "5x", "yesterday", "2026-13-01", "1.5"])
def test_malformed_policies_fail_with_a_hint(text):
    with pytest.raises(InvalidInput) as info:
        parse_cutoff(text, reference_time=NOW)
    assert info.value.hint and "\n" not in info.value.message


def test_the_head_is_always_live_and_commits_count_from_it():
    keep_two = parse_cutoff("2", reference_time=NOW)
    assert [keep_two.is_live(p, NOW) for p in (1, 2, 3)] == [True, True, False]
    since = parse_cutoff("P1D", reference_time=NOW)
    old = NOW - timedelta(days=2)
    assert since.is_live(1, old) and not since.is_live(2, old)
    assert since.is_live(2, NOW - timedelta(days=1))  # exactly at the cutoff: live
    assert parse_cutoff("NONE", reference_time=NOW).is_live(10_000, old)


def test_rules_first_match_on_whole_names_then_the_default():
    rules = CutoffRules.parse(["P10D", "dev.*=5", "dev-1=1", "v[0-9]+=NONE"], reference_time=NOW)
    assert rules.policy_for("dev-1").commits == 5  # the first matching rule wins
    assert rules.policy_for("main").kind == "instant"
    assert rules.policy_for("v12").kind == "none"
    assert rules.policy_for("xdev-1").kind == "instant"  # rules match whole names
    assert CutoffRules.parse([], reference_time=NOW).policy_for("main").kind == "none"


def test_rules_round_trip_through_json_form():
    rules = CutoffRules.parse(["3", "dev.*=P2D"], reference_time=NOW)
    assert CutoffRules.from_dict(rules.to_dict()) == rules


@pytest.mark.parametrize(
    "values", [["3", "5"], ["dev[=2"], ["=2"], ["dev=abc"], ["dev=0"]], ids=str
)
def test_bad_rules_fail(values):
    with pytest.raises(InvalidInput):
        CutoffRules.parse(values, reference_time=NOW)


def test_ref_regex_must_compile():
    assert compile_ref_regex("main|dev-.*").fullmatch("dev-2")
    for bad in ("", "(", "[a-"):
        with pytest.raises(InvalidInput):
            compile_ref_regex(bad)
