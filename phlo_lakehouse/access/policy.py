"""Permissions and policies, and the rule that decides them.

Principals are users (``user:alice``, or plain ``alice``) or groups (``group:data-eng``).
Resources are ``catalog.namespace.table`` patterns with shell wildcards (``lakehouse.raw.*``,
``*.mart.*``, ``*``). Catalog-level operations are checked on ``catalog@ref`` (Nessie
reference changes and merges, write-audit-publish publishing: ``lakehouse@main``,
``lakehouse@etl/*``) or on ``catalog`` alone (actions on the whole catalog, such as Nessie GC).
A table pattern never matches those (``lakehouse.*`` does not cover ``lakehouse@main``); ``*``
matches everything. A decision for (principal, resource, permission):

1. the principal's identities are the user and every group it belongs to;
2. a matching **deny** for the permission (or for ``admin``) wins;
3. else a matching **allow** for the permission (or for ``admin``, which implies every permission)
   allows;
4. else the default applies: deny (access control is default-deny once enabled).

Example:
    >>> p = AccessPolicy.parse("group:eng", "lakehouse.raw.*", ["optimize"])
    >>> p.matches_resource("lakehouse.raw.events")
    True
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from phlo_lakehouse.errors import InvalidInput

_PRINCIPAL = re.compile(r"^(user|group):[A-Za-z0-9_.@\-]+$")
_RESOURCE = re.compile(
    r"^[A-Za-z0-9_*?\[\]\-$]+(\.[A-Za-z0-9_*?\[\]\-$]+)*(@[A-Za-z0-9_*?\[\]\-$./]+)?$"
)


class Permission(StrEnum):
    """What a principal may do to a table."""

    READ = "read"
    WRITE = "write"
    OPTIMIZE = "optimize"
    EXPIRE = "expire"
    VACUUM = "vacuum"
    MANAGE_SNAPSHOTS = "manage_snapshots"
    MANAGE_SCHEMA = "manage_schema"
    #: Create, delete, assign and merge catalog-wide (Nessie) references (on ``catalog@ref``).
    MANAGE_REFS = "manage_refs"
    #: Publish a write-audit-publish run's audited writes onto a branch (on ``catalog@onto``).
    PUBLISH = "publish"
    MIGRATE = "migrate"
    ADMIN = "admin"

    @classmethod
    def parse(cls, value: str | Permission) -> Permission:
        """The permission called ``value``.

        Raises:
            InvalidInput: unknown permission (the hint lists the known ones).
        """
        if isinstance(value, Permission):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError as e:
            raise InvalidInput(
                f"unknown permission {value!r}",
                hint="use one of " + ", ".join(p.value for p in cls),
            ) from e


class Effect(StrEnum):
    """Whether a policy allows or denies."""

    ALLOW = "allow"
    DENY = "deny"


def normalize_principal(principal: str) -> str:
    """``alice`` → ``user:alice``; validates ``user:…``/``group:…``.

    Example:
        >>> normalize_principal("alice"), normalize_principal("group:eng")
        ('user:alice', 'group:eng')
    """
    text = principal.strip()
    if ":" not in text:
        text = f"user:{text}"
    if not _PRINCIPAL.match(text):
        raise InvalidInput(
            f"principal {principal!r} is not valid",
            hint="write user:NAME or group:NAME (letters, digits, _ . @ -)",
        )
    return text


def validate_resource(resource: str) -> str:
    """Check a ``catalog.namespace.table``, ``catalog@ref`` or ``catalog`` pattern.

    Example:
        >>> validate_resource("lakehouse@etl/*")
        'lakehouse@etl/*'
    """
    if not _RESOURCE.match(resource.strip()):
        raise InvalidInput(
            f"resource pattern {resource!r} is not valid",
            hint="write catalog.namespace.table or catalog@ref with optional wildcards, "
            "e.g. lakehouse.raw.* or lakehouse@main",
        )
    return resource.strip()


@dataclass(frozen=True)
class AccessPolicy:
    """Principal × resource pattern × permissions, allowing or denying.

    Use `AccessPolicy.parse` to build one from text; it validates every part.
    """

    principal: str
    resource: str
    permissions: frozenset[Permission]
    effect: Effect = Effect.ALLOW

    @classmethod
    def parse(
        cls,
        principal: str,
        resource: str,
        permissions: Iterable[str | Permission],
        effect: str | Effect = Effect.ALLOW,
    ) -> AccessPolicy:
        """A validated policy from text."""
        perms = frozenset(Permission.parse(p) for p in permissions)
        if not perms:
            raise InvalidInput("a policy needs at least one permission", hint="e.g. [read]")
        try:
            chosen = Effect(str(effect.value if isinstance(effect, Effect) else effect).lower())
        except ValueError as e:
            raise InvalidInput(f"effect {effect!r} is not valid", hint="allow or deny") from e
        return cls(normalize_principal(principal), validate_resource(resource), perms, chosen)

    def matches_resource(self, resource: str) -> bool:
        """True when ``resource`` (catalog.namespace.table) matches the pattern."""
        return fnmatch.fnmatchcase(resource, self.resource)

    def covers(self, permission: Permission) -> bool:
        """True when the policy speaks about ``permission`` (``admin`` covers all)."""
        return permission in self.permissions or Permission.ADMIN in self.permissions

    def to_dict(self) -> dict[str, object]:
        return {
            "principal": self.principal,
            "resource": self.resource,
            "permissions": sorted(p.value for p in self.permissions),
            "effect": self.effect.value,
        }


@dataclass(frozen=True)
class Decision:
    """The outcome of a permission check, with the policy that decided it (None: default)."""

    allowed: bool
    principal: str
    resource: str
    permission: Permission
    policy: AccessPolicy | None

    @property
    def reason(self) -> str:
        if self.policy is None:
            return "no policy allows it (default deny)"
        verb = "allowed" if self.allowed else "denied"
        policy = self.policy
        return f"{verb} by {policy.effect.value} {policy.principal} on {policy.resource}"


def decide(
    policies: Sequence[AccessPolicy],
    identities: Iterable[str],
    resource: str,
    permission: Permission,
) -> Decision:
    """Apply the rules of this module to ``policies`` for one request."""
    ids = set(identities)
    principal = next((i for i in ids if i.startswith("user:")), next(iter(ids), ""))
    relevant = [
        p
        for p in policies
        if p.principal in ids and p.covers(permission) and p.matches_resource(resource)
    ]
    for policy in relevant:
        if policy.effect is Effect.DENY:
            return Decision(False, principal, resource, permission, policy)
    for policy in relevant:
        return Decision(True, principal, resource, permission, policy)
    return Decision(False, principal, resource, permission, None)
