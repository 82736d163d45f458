"""The retry layer: Iceberg's commit.retry.* numbers, measured waits, and which errors retry."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.retry import RetryPolicy, is_transient


def test_unset_properties_give_icebergs_defaults():
    policy = RetryPolicy.for_commits({})
    assert (policy.num_retries, policy.min_wait_ms, policy.max_wait_ms, policy.total_timeout_ms) \
        == (4, 100, 60_000, 1_800_000)  # fmt: skip
    assert policy.source == "default" and policy.max_attempts == 5


def test_table_properties_set_the_policy():
    policy = RetryPolicy.for_commits(
        {
            "commit.retry.num-retries": "2",
            "commit.retry.min-wait-ms": "10",
            "commit.retry.max-wait-ms": "25",
            "commit.retry.total-timeout-ms": "5000",
        }
    )
    assert (policy.num_retries, policy.min_wait_ms, policy.max_wait_ms, policy.total_timeout_ms) \
        == (2, 10, 25, 5000)  # fmt: skip
    assert [policy.base_wait_ms(n) for n in (1, 2, 3, 4)] == [10, 20, 25, 25]
    assert policy.source == "table properties"


@pytest.mark.parametrize("value", ["-1", "ten", "1.5"])
def test_a_malformed_property_is_a_one_line_error_naming_it(value):
    with pytest.raises(InvalidConfig, match=r"commit.retry.min-wait-ms") as error:
        RetryPolicy.for_commits({"commit.retry.min-wait-ms": value})
    assert "\n" not in str(error.value) and error.value.hint


def test_waits_double_from_min_to_max_with_at_most_ten_percent_jitter():
    policy = RetryPolicy(num_retries=4, min_wait_ms=40, max_wait_ms=100)
    failures = iter([ConnectionResetError()] * 4)

    def flaky() -> str:
        error = next(failures, None)
        if error:
            raise error
        return "done"

    started = time.monotonic()
    outcome = policy.call(flaky, retry_if=is_transient)
    elapsed = time.monotonic() - started

    assert outcome.value == "done" and outcome.attempts == 5
    for wait, base in zip(outcome.waits, (0.04, 0.08, 0.1, 0.1), strict=True):
        assert base <= wait <= base * 1.1 + 1e-9
    assert elapsed >= sum(outcome.waits)


def test_exhausted_retries_raise_the_last_error_and_others_are_not_retried():
    policy = RetryPolicy(num_retries=2, min_wait_ms=1, max_wait_ms=1)
    calls: list[int] = []

    def reset() -> None:
        calls.append(1)
        raise ConnectionResetError(f"reset {len(calls)}")

    with pytest.raises(ConnectionResetError, match="reset 3"):
        policy.call(reset, retry_if=is_transient)

    def denied() -> None:
        calls.append(2)
        raise PermissionError("denied")

    with pytest.raises(PermissionError):
        policy.call(denied, retry_if=is_transient)
    assert calls == [1, 1, 1, 2]


def test_the_total_timeout_stops_retrying():
    policy = RetryPolicy(num_retries=100, min_wait_ms=30, max_wait_ms=30, total_timeout_ms=100)
    calls: list[float] = []

    def reset() -> None:
        calls.append(time.monotonic())
        raise ConnectionResetError()

    with pytest.raises(ConnectionResetError):
        policy.call(reset, retry_if=is_transient)
    assert 3 <= len(calls) <= 6
    assert calls[-1] - calls[0] < 0.3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_connection_errors_and_server_errors_are_transient():
    from botocore.exceptions import ClientError
    from pyiceberg.exceptions import CommitFailedException, ServerError

    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{_closed_port()}/", timeout=2)
    slow_down = ClientError({"Error": {"Code": "SlowDown", "Message": "m"}}, "DeleteObjects")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "m"}}, "DeleteObjects")
    arrow_503 = OSError("AWS Error SLOW_DOWN during DeleteObject operation: Please reduce your "
                        "request rate.")  # fmt: skip

    assert is_transient(refused.value)
    assert is_transient(slow_down) and not is_transient(denied)
    assert is_transient(arrow_503) and not is_transient(FileNotFoundError("gone"))
    assert is_transient(ServerError("502")) and not is_transient(CommitFailedException("moved"))
    try:
        try:
            raise ConnectionResetError("peer")
        except ConnectionResetError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as wrapped:
        assert is_transient(wrapped)  # the cause decides
