"""Plan tokens: round trip, damage detection, fingerprints that ignore only volatile details."""

import pytest

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.phlo_adapter.tokens import PlanToken, plan_fingerprint


def test_a_token_round_trips():
    token = PlanToken("snapshot_expiry", "a.b", "dev", "uuid-1", None, {"older_than": "7d"}, "f")
    assert PlanToken.decode(token.encode()) == token


@pytest.mark.parametrize(
    "text",
    ["", "plk2.e30.x", "plk1.e30", "plk1.!!!.x", "plk1.e30.x", "plk1.WzFd.x", "not a token"],
)
def test_damaged_tokens_are_invalid_input(text):
    with pytest.raises(InvalidInput):
        PlanToken.decode(text)


def test_the_fingerprint_covers_figures_and_details_but_not_the_reference_time_echo():
    base = plan_fingerprint({"files": 2}, {"groups": [["a", "b"]], "now": "t1"})
    assert base == plan_fingerprint({"files": 2}, {"groups": [["a", "b"]], "now": "t2"})
    assert base != plan_fingerprint({"files": 3}, {"groups": [["a", "b"]], "now": "t1"})
    assert base != plan_fingerprint({"files": 2}, {"groups": [["a", "c"]], "now": "t1"})
