"""The commit-outcome rule every commit path follows: committed, not committed, or unknown.

A commit request can end three ways. The catalog accepted it (**committed**); the catalog
refused it, or the request provably never left (**not committed**: a requirement failed, a 4xx
answer, a connection that could not even be opened); or the answer was lost (**unknown**: a
dropped or reset connection after the request was sent, a read timeout, a 5xx — including
PyIceberg's ``CommitStateUnknownException`` — a garbled answer).

Only "not committed" lets an operation delete what it wrote. An unknown outcome is resolved here:

1. re-read the table (retrying transient errors) and look for the commit's effects in every
   table version since the one the commit was based on — the new snapshot id, the ref position,
   the schema — found → **committed**;
2. not found → send the *identical* commit again. Its requirements (the branch head, the schema
   id, the ref set the commit was planned on) make it apply at most once: it either lands now
   (**committed**), or is refused because the table moved on — then a second look decides: our
   effects are there (the first request landed) → **committed**, absent → **not committed**;
3. still undecided after ``commit.status-check.*`` attempts (Iceberg's properties and defaults:
   3 retries, 1 s to 60 s apart) → `CommitStateUnknown`, and every file stays for vacuum / GC.

Example:
    >>> outcome_of_error(ConnectionResetError("reset by peer"))
    <CommitOutcome.UNKNOWN: 'unknown'>
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TypeVar

from phlo_lakehouse.errors import CommitStateUnknown
from phlo_lakehouse.retry import RetryPolicy, is_transient
from phlo_lakehouse.units import int_property

T = TypeVar("T")
LOG = logging.getLogger("phlo_lakehouse.commit")

STATUS_CHECK_PREFIX = "commit.status-check."
#: Iceberg's defaults for ``commit.status-check.*`` (``TableProperties``).
STATUS_CHECK_DEFAULTS = {
    "num-retries": 3,
    "min-wait-ms": 1000,
    "max-wait-ms": 60_000,
    "total-timeout-ms": 1_800_000,
}


class CommitOutcome(Enum):
    COMMITTED = "committed"
    NOT_COMMITTED = "not committed"
    UNKNOWN = "unknown"


#: Errors that prove the catalog refused the change (by class name, in their own modules).
_REFUSED = {
    "pyiceberg": {
        "CommitFailedException",
        "NoSuchTableError",
        "NoSuchNamespaceError",
        "BadRequestError",
        "ForbiddenError",
        "UnauthorizedError",
        "AuthorizationExpiredError",
        "NotInstalledError",
        "ValidationException",
        "TableAlreadyExistsError",
    },
    "pynessie": {
        "NessieConflictException",
        "NessieReferenceAlreadyExistsException",
        "NessieReferenceConflictException",
        "NessieNotFoundException",
        "NessieReferenceNotFoundException",
        "NessieContentNotFoundException",
        "NessiePreconidtionFailedException",  # (sic: pynessie's spelling)
        "NessieUnauthorizedException",
        "NessiePermissionException",
    },
}


def outcome_of_error(error: BaseException) -> CommitOutcome:
    """What an error raised by a commit request says about the commit: NOT_COMMITTED when the
    catalog refused it or the request was never sent, UNKNOWN for everything else (a lost answer
    is never taken for a refusal)."""
    if _refused(error) or _never_sent(error):
        return CommitOutcome.NOT_COMMITTED
    return CommitOutcome.UNKNOWN


def _refused(error: BaseException) -> bool:
    from phlo_lakehouse.errors import Conflict

    if isinstance(error, Conflict):
        return True
    module = type(error).__module__.split(".")[0]
    return type(error).__name__ in _REFUSED.get(module, ())


def _never_sent(error: BaseException) -> bool:
    """A connection that could not be opened: the request did not leave this process."""
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if name in {"NewConnectionError", "ConnectTimeoutError", "ConnectTimeout"}:
            return True
        if isinstance(current, ConnectionRefusedError):
            return True
        if type(current).__module__.startswith("botocore") and name == "EndpointConnectionError":
            return True
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError carries it here
        if isinstance(reason, BaseException) and id(reason) not in seen:
            current = reason
            continue
        if current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]  # requests wraps urllib3's error as its first argument
            continue
        current = current.__cause__ or current.__context__
    return False


def status_check_policy(properties: Mapping[str, str]) -> RetryPolicy:
    """How often and how far apart an unknown outcome is re-checked: the table's
    ``commit.status-check.*`` properties, Iceberg's defaults for what is unset."""
    values = {
        key: int_property(
            properties,
            STATUS_CHECK_PREFIX + key,
            default,
            hint=f"set {STATUS_CHECK_PREFIX}{key} to e.g. {default} or unset it",
        )
        for key, default in STATUS_CHECK_DEFAULTS.items()
    }
    return RetryPolicy(
        num_retries=values["num-retries"] or 0,
        min_wait_ms=values["min-wait-ms"] or 0,
        max_wait_ms=values["max-wait-ms"] or 0,
        total_timeout_ms=values["total-timeout-ms"] or 0,
        source="commit.status-check",
    )


def commit_resolving(
    send: Callable[[], T],
    landed: Callable[[], bool],
    *,
    what: str,
    policy: RetryPolicy,
    on_committed: Callable[[], T] | None = None,
) -> T:
    """Send a commit and follow the rule of the module doc.

    Args:
        send: sends the commit (again, identically, when asked twice); raises on failure.
        landed: re-reads the catalog and says whether the commit's effects are there.
        what: names the commit in messages ("optimize of demo.events").
        policy: the status-check policy (`status_check_policy`).
        on_committed: returns the value for a commit found landed (default: None).

    Raises:
        BaseException: the refusal, when the commit was provably not committed (callers clean
            up and map CommitFailedException to Conflict as before).
        CommitStateUnknown: the outcome stayed unknown.
    """
    try:
        return send()
    except BaseException as error:
        if not isinstance(error, Exception):
            raise
        if outcome_of_error(error) is CommitOutcome.NOT_COMMITTED:
            raise
        LOG.warning("%s: commit outcome unknown (%s); checking the catalog", what, _brief(error))
        last: BaseException = error

    def found() -> T:
        LOG.warning("%s: the commit had landed", what)
        return on_committed() if on_committed is not None else None  # type: ignore[return-value]

    checks = 0
    try:
        for attempt in policy.retrying(lambda e: isinstance(e, _StillUnknown) or is_transient(e)):
            with attempt:
                checks += 1
                if landed():
                    return found()
                try:
                    return send()
                except Exception as resend_error:
                    last = resend_error
                    if outcome_of_error(resend_error) is not CommitOutcome.NOT_COMMITTED:
                        raise _StillUnknown(resend_error) from resend_error
                # Refused now: the table moved on since the base. Landed before, or never will.
                if landed():
                    return found()
                LOG.warning("%s: not committed (%s)", what, _brief(last))
                raise _Refused(last)
    except _Refused as refused:
        raise refused.error from refused.error.__cause__
    except _StillUnknown:
        pass
    except Exception as check_error:  # noqa: BLE001 - a re-read that kept failing
        last = check_error
    raise CommitStateUnknown(
        f"{what}: the commit's outcome is unknown — the catalog's answer was lost and "
        f"{checks} check(s) of the table did not settle it ({_brief(last)})",
        hint="nothing was deleted; look at the table's latest snapshot (`phlo-lakehouse "
        "snapshots list TABLE`) before re-running: a landed commit needs no re-run, and files "
        "of one that did not land are removed by vacuum / Nessie GC once old enough",
    ) from last


class _StillUnknown(Exception):
    """The re-sent commit's answer was lost too: check again after a wait."""


class _Refused(Exception):
    """The re-sent commit was refused and its effects are absent: not committed."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _brief(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def may_clean_up(error: BaseException, *, commit_sent: bool) -> bool:
    """Whether files written for a commit may be deleted after ``error``: only when no commit was
    sent yet, or the commit was refused (`Conflict`, raised only for a proven refusal). An
    unknown outcome, an interrupt or any other error after sending leaves them for vacuum / GC.

    Example:
        >>> from phlo_lakehouse.errors import CommitStateUnknown, Conflict
        >>> may_clean_up(Conflict("moved"), commit_sent=True)
        True
        >>> may_clean_up(CommitStateUnknown("lost"), commit_sent=True)
        False
    """
    from phlo_lakehouse.errors import Conflict

    return not commit_sent or isinstance(error, Conflict)
