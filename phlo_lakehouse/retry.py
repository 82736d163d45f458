"""The one retry layer: exponential backoff with jitter, shaped by Iceberg's ``commit.retry.*``.

Every retry in phlo_lakehouse goes through `RetryPolicy`: commit conflicts (the executor re-plans
on a refreshed table), re-reads that decide an unknown commit outcome, object-store listings and
deletes, catalog reads. A policy is four numbers with Iceberg's meaning and defaults:

- ``num_retries`` (``commit.retry.num-retries``, 4): retries after the first attempt;
- ``min_wait_ms`` (``commit.retry.min-wait-ms``, 100): the wait before the first retry, doubled
  before each further retry ...
- ``max_wait_ms`` (``commit.retry.max-wait-ms``, 60000): ... up to this;
- ``total_timeout_ms`` (``commit.retry.total-timeout-ms``, 1800000): no retry starts later than
  this after the first attempt.

As in Iceberg's Java ``Tasks``, each wait gets up to 10 % random jitter on top, so writers that
conflicted together do not retry together. The loop itself is tenacity's.

Example:
    >>> policy = RetryPolicy.for_commits({"commit.retry.num-retries": "2"})
    >>> policy.num_retries, policy.min_wait_ms
    (2, 100)
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionResetError("reset by peer")
    ...     return "ok"
    >>> fast = RetryPolicy(num_retries=3, min_wait_ms=1, max_wait_ms=2)
    >>> outcome = fast.call(flaky, retry_if=is_transient)
    >>> outcome.value, outcome.attempts
    ('ok', 3)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from phlo_lakehouse.errors import InvalidConfig

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")

COMMIT_RETRY_PREFIX = "commit.retry."
#: Iceberg's defaults (``TableProperties.COMMIT_*_DEFAULT``).
DEFAULT_NUM_RETRIES = 4
DEFAULT_MIN_WAIT_MS = 100
DEFAULT_MAX_WAIT_MS = 60_000
DEFAULT_TOTAL_TIMEOUT_MS = 1_800_000
#: Jitter added on top of each wait, as a share of the wait (Iceberg: up to 10 %).
JITTER = 0.1

#: S3 error codes that mean "try again" (throttling, a server-side hiccup).
TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "502",
        "504",
    }
)
#: Fragments of the messages pyarrow's and fsspec's filesystems raise for the same conditions.
_TRANSIENT_TEXT = (
    "slow down",
    "slow_down",
    "slowdown",
    "please reduce your request rate",
    "service unavailable",
    "internal error",
    "internalerror",
    "http response code: 5",
    "response code 5",
    "connection reset",
    "connection aborted",
    "connection refused",
    "broken pipe",
    "timed out",
    "curlcode: 7",
    "curlcode: 28",
    "curlcode: 52",
    "curlcode: 55",
    "curlcode: 56",
)


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """A value and how it was obtained: ``attempts`` calls, after waiting ``waits`` seconds."""

    value: T
    attempts: int
    waits: tuple[float, ...] = ()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how far apart to retry (see the module doc for the four numbers).

    Example:
        >>> RetryPolicy(min_wait_ms=100, max_wait_ms=300).base_wait_ms(3)
        300
    """

    num_retries: int = DEFAULT_NUM_RETRIES
    min_wait_ms: int = DEFAULT_MIN_WAIT_MS
    max_wait_ms: int = DEFAULT_MAX_WAIT_MS
    total_timeout_ms: int = DEFAULT_TOTAL_TIMEOUT_MS
    #: where the numbers came from, for messages ("table properties", "default", …)
    source: str = field(default="default", compare=False)

    def __post_init__(self) -> None:
        for name in ("num_retries", "min_wait_ms", "max_wait_ms", "total_timeout_ms"):
            if getattr(self, name) < 0:
                raise InvalidConfig(
                    f"{name}={getattr(self, name)} is negative",
                    hint="retry counts and waits are zero or more",
                )

    @classmethod
    def for_commits(cls, properties: Mapping[str, str]) -> RetryPolicy:
        """The policy a table's properties ask for (``commit.retry.*``), Iceberg's defaults for
        what they leave unset.

        Raises:
            InvalidConfig: a property is not a non-negative whole number.
        """
        values = {
            "num_retries": ("num-retries", DEFAULT_NUM_RETRIES),
            "min_wait_ms": ("min-wait-ms", DEFAULT_MIN_WAIT_MS),
            "max_wait_ms": ("max-wait-ms", DEFAULT_MAX_WAIT_MS),
            "total_timeout_ms": ("total-timeout-ms", DEFAULT_TOTAL_TIMEOUT_MS),
        }
        given = {
            attr: _non_negative_int(properties, COMMIT_RETRY_PREFIX + key, default)
            for attr, (key, default) in values.items()
        }
        explicit = any(COMMIT_RETRY_PREFIX + key in properties for key, _ in values.values())
        return cls(**given, source="table properties" if explicit else "default")

    @property
    def max_attempts(self) -> int:
        """The first attempt plus ``num_retries``."""
        return self.num_retries + 1

    def base_wait_ms(self, retry_number: int) -> int:
        """The wait before retry ``retry_number`` (1 = the first retry), without jitter:
        ``min(min_wait_ms * 2 ** (retry_number - 1), max_wait_ms)``."""
        if retry_number < 1:
            return 0
        exponent = min(retry_number - 1, 62)
        return min(self.min_wait_ms * (2**exponent), self.max_wait_ms)

    def wait_seconds(self, retry_number: int) -> float:
        """`base_wait_ms` plus up to `JITTER` of it at random, in seconds."""
        base = self.base_wait_ms(retry_number)
        return (base + random.uniform(0, base * JITTER)) / 1000.0

    def retrying(
        self,
        retry_if: Callable[[BaseException], bool],
        *,
        before_sleep: Callable[[BaseException, int, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> tenacity.Retrying:
        """A tenacity ``Retrying`` for loops that keep state between attempts.

        ``for attempt in policy.retrying(pred): with attempt: ...`` runs the body until it does
        not raise, ``pred`` rejects the error (re-raised as is), or the policy is exhausted (the
        last error re-raised). ``before_sleep(error, attempt_number, wait_seconds)`` is called
        before each wait.
        """
        import tenacity

        def wait(state: tenacity.RetryCallState) -> float:
            return self.wait_seconds(state.attempt_number)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            elapsed_ms = (time.monotonic() - state.start_time) * 1000
            return elapsed_ms >= self.total_timeout_ms

        def announce(state: tenacity.RetryCallState) -> None:
            if before_sleep is None or state.outcome is None:
                return
            error = state.outcome.exception()
            if error is not None:
                wait_s = state.upcoming_sleep
                before_sleep(error, state.attempt_number, wait_s)

        return tenacity.Retrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(retry_if),
            before_sleep=announce,
            sleep=sleep,
            reraise=True,
        )

    def call(
        self,
        fn: Callable[[], T],
        *,
        retry_if: Callable[[BaseException], bool],
        before_sleep: Callable[[BaseException, int, float], None] | None = None,
    ) -> Attempted[T]:
        """``fn()`` retried while it raises errors ``retry_if`` accepts; the value with the
        number of attempts and the waits.

        Raises:
            BaseException: the error ``retry_if`` rejected, or the last one when exhausted.
        """
        waits: list[float] = []

        def record(error: BaseException, attempt: int, wait_s: float) -> None:
            waits.append(wait_s)
            if before_sleep is not None:
                before_sleep(error, attempt, wait_s)

        attempts = 0
        for attempt in self.retrying(retry_if, before_sleep=record):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                value = fn()
        return Attempted(value, attempts, tuple(waits))


#: Retries of object-store requests (listings, deletes) and catalog reads: quicker than commit
#: retries, as these are idempotent and a throttled store recovers in seconds.
STORAGE_RETRY = RetryPolicy(
    num_retries=6, min_wait_ms=100, max_wait_ms=5_000, total_timeout_ms=120_000
)


def is_transient(error: BaseException) -> bool:
    """True for errors a retry may cure: a dropped or refused connection, a timeout, an HTTP 5xx
    or 429, S3 throttling (``SlowDown``) and S3 server errors, whichever client raised them
    (requests, urllib3, botocore, pyarrow, aiohttp/fsspec, PyIceberg's REST catalog).

    Example:
        >>> is_transient(ConnectionResetError()), is_transient(PermissionError("denied"))
        (True, False)
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_here(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_here(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError):
        return True  # the builtins: reset, refused, aborted, broken pipe, timeouts
    module = type(error).__module__.split(".")[0]
    name = type(error).__name__
    if module in {"requests", "urllib3"}:
        return name in {
            "ConnectionError",
            "ChunkedEncodingError",
            "ReadTimeout",
            "ConnectTimeout",
            "Timeout",
            "ProtocolError",
            "NewConnectionError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
            "RemoteDisconnected",
            "IncompleteRead",
        }
    if module == "http" and name in {"RemoteDisconnected", "IncompleteRead"}:
        return True
    if module == "pyiceberg":
        return name in {"ServerError", "ServiceUnavailableError", "TooManyRequestsError"}
    if module == "botocore":
        if name == "ClientError":
            return _s3_code(error) in TRANSIENT_S3_CODES
        return name in {
            "EndpointConnectionError",
            "ConnectionClosedError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
            "ResponseStreamingError",
            "IncompleteReadError",
        }
    if module == "aiohttp":
        return name.startswith(("ClientConnector", "ServerDisconnected", "ClientOSError"))
    if isinstance(error, OSError):
        text = str(error).lower()
        return any(fragment in text for fragment in _TRANSIENT_TEXT)
    return False


def _s3_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code or str(status or "")


def _non_negative_int(properties: Mapping[str, str], key: str, default: int) -> int:
    from phlo_lakehouse.units import int_property

    hint = f"set {key} to e.g. {default} (Iceberg's default) or unset it"
    value = int_property(properties, key, default, minimum=0, hint=hint)
    assert value is not None
    return value
