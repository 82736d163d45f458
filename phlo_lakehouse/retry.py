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

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.transient import TRANSIENT_S3_CODES, is_transient

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")
__all__ = [
    "STORAGE_RETRY",
    "TRANSIENT_S3_CODES",
    "Attempted",
    "CommitBudget",
    "RetryPolicy",
    "active_commit_budget",
    "commit_budget",
    "count_commit_attempt",
    "is_transient",
]

COMMIT_RETRY_PREFIX = "commit.retry."
#: Iceberg's defaults (``TableProperties.COMMIT_*_DEFAULT``).
DEFAULT_NUM_RETRIES = 4
DEFAULT_MIN_WAIT_MS = 100
DEFAULT_MAX_WAIT_MS = 60_000
DEFAULT_TOTAL_TIMEOUT_MS = 1_800_000
#: Jitter added on top of each wait, as a share of the wait (Iceberg: up to 10 %).
JITTER = 0.1


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


class CommitBudget:
    """The commit attempts of one operation run, shared by every loop that retries a conflict
    (the executor re-planning, a snapshot producer re-validating): together they make at most
    ``policy.max_attempts`` attempts, with the policy's waits between them — never attempts ×
    attempts, never without a wait.

    Example:
        >>> budget = CommitBudget(RetryPolicy(num_retries=1, min_wait_ms=1, max_wait_ms=1))
        >>> budget.count()
        >>> budget.retry_after(RuntimeError("conflict"))     # waits ~1 ms
        >>> budget.count()
        >>> budget.retry_after(RuntimeError("conflict"))
        Traceback (most recent call last):
        RuntimeError: conflict
    """

    def __init__(self, policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy
        self.attempts = 0
        self.waits: list[float] = []
        self._started = time.monotonic()
        self._sleep = sleep

    def count(self) -> None:
        """Record one commit attempt (called where the commit is sent)."""
        self.attempts += 1

    @property
    def exhausted(self) -> bool:
        elapsed_ms = (time.monotonic() - self._started) * 1000
        return (
            self.attempts >= self.policy.max_attempts or elapsed_ms >= self.policy.total_timeout_ms
        )

    def retry_after(self, error: BaseException) -> None:
        """Wait before the next attempt, or raise ``error`` when the budget is spent."""
        if self.exhausted:
            raise error
        wait = self.policy.wait_seconds(max(1, self.attempts))
        self.waits.append(wait)
        self._sleep(wait)


_BUDGET: ContextVar[CommitBudget | None] = ContextVar("phlo_lakehouse_commit_budget", default=None)


@contextlib.contextmanager
def commit_budget(policy: RetryPolicy) -> Iterator[CommitBudget]:
    """Make a `CommitBudget` the one that commits in this context (thread) count against."""
    budget = CommitBudget(policy)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def active_commit_budget(properties: Mapping[str, str]) -> CommitBudget:
    """The budget of the operation running in this context, else a new one from the table's
    ``commit.retry.*`` properties (a producer used on its own)."""
    return _BUDGET.get() or CommitBudget(RetryPolicy.for_commits(properties))


def count_commit_attempt() -> None:
    """Count a commit attempt against the active budget (if any)."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.count()


#: Retries of object-store requests (listings, deletes) and catalog reads: quicker than commit
#: retries, as these are idempotent and a throttled store recovers in seconds.
STORAGE_RETRY = RetryPolicy(
    num_retries=6, min_wait_ms=100, max_wait_ms=5_000, total_timeout_ms=120_000
)


def _non_negative_int(properties: Mapping[str, str], key: str, default: int) -> int:
    from phlo_lakehouse.units import int_property

    hint = f"set {key} to e.g. {default} (Iceberg's default) or unset it"
    return int_property(properties, key, default, minimum=0, hint=hint)
