"""Cutoff policies: how far back each Nessie reference's commit log stays live.

The policies are Nessie GC's: ``NONE`` (every commit of the reference's history is live; the
default), a number of commits (the newest N, head included), a duration (``P10D``, ``36h``:
commits made at or after ``reference_time - duration``) or an instant
(``2026-01-31T00:00:00Z``: commits made at or after it). A reference's head commit is always live,
whatever the policy. Per-reference rules are ``REGEX=POLICY``; the regular expression must match the
whole reference name, and the first rule that matches wins (as ``nessie-gc --cutoff``).

One difference from Nessie's own tool, in the safe direction: ``nessie-gc`` counts the commit it is
looking at before comparing it with N, so ``--cutoff 5`` keeps four commits there; here ``5`` keeps
five.

Example:
    >>> from datetime import datetime, UTC
    >>> now = datetime(2026, 1, 31, tzinfo=UTC)
    >>> rules = CutoffRules.parse(["P10D", "dev.*=5"], reference_time=now)
    >>> str(rules.policy_for("main")), str(rules.policy_for("dev-1"))
    ('commits since 2026-01-21T00:00:00+00:00', 'last 5 commits')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.units import parse_duration

_POLICY_HINT = (
    "write NONE, a number of commits (5), a duration (P10D, 36h) or an ISO instant "
    "(2026-01-31T00:00:00Z); per reference: REGEX=POLICY, e.g. 'dev.*=5'"
)


@dataclass(frozen=True)
class CutoffPolicy:
    """Which commits of one reference's log are live.

    Attributes:
        kind: "none", "commits" or "instant".
        commits: for "commits", how many of the newest commits are live (≥ 1).
        instant: for "instant", the oldest commit time that is live (durations are turned into
            an instant against the GC's reference time).
        text: the policy as written, for reports.
    """

    kind: str
    commits: int | None = None
    instant: datetime | None = None
    text: str = "NONE"

    def is_live(self, position: int, commit_time: datetime) -> bool:
        """True when the commit at ``position`` (1 = the head) made at ``commit_time`` is live.

        Example:
            >>> CutoffPolicy("commits", commits=2, text="2").is_live(3, datetime.now(UTC))
            False
        """
        if position <= 1 or self.kind == "none":
            return True
        if self.kind == "commits":
            return position <= (self.commits or 1)
        assert self.instant is not None
        return commit_time >= self.instant

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (plans, deferred files, audit records)."""
        return {
            "kind": self.kind,
            "commits": self.commits,
            "instant": self.instant.isoformat() if self.instant else None,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CutoffPolicy:
        """The policy `to_dict` wrote."""
        instant = data.get("instant")
        commits = data.get("commits")
        return cls(
            kind=str(data["kind"]),
            commits=int(str(commits)) if commits is not None else None,
            instant=datetime.fromisoformat(str(instant)) if instant else None,
            text=str(data.get("text", "")),
        )

    def __str__(self) -> str:
        if self.kind == "none":
            return "NONE"
        if self.kind == "commits":
            return f"last {self.commits} commits"
        assert self.instant is not None
        return f"commits since {self.instant.isoformat()}"


NONE = CutoffPolicy("none")


def parse_cutoff(text: str, *, reference_time: datetime, name: str = "cutoff") -> CutoffPolicy:
    """Parse one policy: ``NONE``, a number of commits, a duration or an ISO-8601 instant.

    Args:
        text: the policy.
        reference_time: what durations count back from (timezone-aware).
        name: how the caller names the value, for the error message.

    Raises:
        InvalidInput: the text is none of the four forms, or a number below 1.

    Example:
        >>> now = datetime(2026, 1, 31, tzinfo=UTC)
        >>> parse_cutoff("36h", reference_time=now).instant.isoformat()
        '2026-01-29T12:00:00+00:00'
    """
    value = text.strip() if isinstance(text, str) else ""
    if not value:
        raise InvalidInput(f"{name}={text!r} is not a cutoff policy", hint=_POLICY_HINT)
    if value.upper() == "NONE":
        return CutoffPolicy("none", text="NONE")
    if value.isdigit():
        commits = int(value)
        if commits < 1:
            raise InvalidInput(
                f"{name}={text!r} keeps no commit", hint="keep at least 1 commit (the head)"
            )
        return CutoffPolicy("commits", commits=commits, text=value)
    if value[:1] in "Pp" or value[:1].isdigit() and not _looks_like_instant(value):
        try:
            duration = parse_duration(value, name=name)
        except InvalidInput:
            raise InvalidInput(
                f"{name}={text!r} is not a cutoff policy", hint=_POLICY_HINT
            ) from None
        return CutoffPolicy("instant", instant=reference_time - duration, text=value)
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}={text!r} is not a cutoff policy", hint=_POLICY_HINT) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return CutoffPolicy("instant", instant=instant, text=value)


def _looks_like_instant(value: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}", value))


@dataclass(frozen=True)
class CutoffRule:
    """A per-reference rule: references whose whole name matches ``pattern`` get ``policy``."""

    pattern: str
    policy: CutoffPolicy

    def matches(self, ref: str) -> bool:
        return re.fullmatch(self.pattern, ref) is not None


@dataclass(frozen=True)
class CutoffRules:
    """The default policy and the per-reference rules (first match wins).

    Example:
        >>> rules = CutoffRules.parse(["3"], reference_time=datetime.now(UTC))
        >>> rules.policy_for("anything").commits
        3
    """

    default: CutoffPolicy = NONE
    rules: tuple[CutoffRule, ...] = ()

    def policy_for(self, ref: str) -> CutoffPolicy:
        """The policy of reference ``ref``."""
        for rule in self.rules:
            if rule.matches(ref):
                return rule.policy
        return self.default

    @classmethod
    def parse(
        cls, values: str | Iterable[str] | None, *, reference_time: datetime, name: str = "cutoff"
    ) -> CutoffRules:
        """Rules from ``POLICY`` (the default; at most one) and ``REGEX=POLICY`` values.

        Raises:
            InvalidInput: a malformed policy or regular expression, or two defaults.
        """
        items: Sequence[str] = [values] if isinstance(values, str) else list(values or [])
        default: CutoffPolicy | None = None
        rules: list[CutoffRule] = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidInput(f"{name}={item!r} is not a cutoff policy", hint=_POLICY_HINT)
            pattern, equals, policy_text = item.rpartition("=")
            if not equals:
                if default is not None:
                    raise InvalidInput(
                        f"{name} has two default policies ({default.text!r} and {item!r})",
                        hint="give one POLICY and any number of REGEX=POLICY rules",
                    )
                default = parse_cutoff(item, reference_time=reference_time, name=name)
                continue
            compile_ref_regex(pattern, name=f"{name} {item!r}")
            policy = parse_cutoff(policy_text, reference_time=reference_time, name=name)
            rules.append(CutoffRule(pattern.strip(), policy))
        return cls(default or NONE, tuple(rules))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "default": self.default.to_dict(),
            "rules": [{"pattern": r.pattern, "policy": r.policy.to_dict()} for r in self.rules],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CutoffRules:
        """The rules `to_dict` wrote."""
        rules = data.get("rules") or []
        assert isinstance(rules, list)
        default = data["default"]
        assert isinstance(default, dict)
        return cls(
            CutoffPolicy.from_dict(default),
            tuple(CutoffRule(r["pattern"], CutoffPolicy.from_dict(r["policy"])) for r in rules),
        )


def compile_ref_regex(pattern: str, *, name: str = "ref_regex") -> re.Pattern[str]:
    """Compile a reference-name regular expression (matched against whole names).

    Raises:
        InvalidInput: the pattern is empty or not a valid regular expression.

    Example:
        >>> compile_ref_regex("dev-.*").fullmatch("dev-1") is not None
        True
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidInput(
            f"{name}={pattern!r} is empty", hint="write a regular expression, e.g. 'main|dev-.*'"
        )
    try:
        return re.compile(pattern.strip())
    except re.error as e:
        raise InvalidInput(
            f"{name}={pattern!r} is not a regular expression ({e})",
            hint="write a Python regular expression matching whole reference names, e.g. 'dev-.*'",
        ) from None
