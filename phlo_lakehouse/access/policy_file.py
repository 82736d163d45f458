"""Policies kept as a YAML file: validated, then synced to a provider (plan first, then apply).

```yaml
groups:
  data-eng: [alice, bob]
policies:
  - principal: group:data-eng
    resource: lakehouse.raw.*
    permissions: [read, optimize, expire, vacuum]
  - principal: user:mallory
    resource: "*"
    permissions: [admin]
    effect: deny
```

The file is the whole truth: sync adds what the file has and the store lacks, and removes what
the store has and the file lacks. Any error in the file stops everything before a change.

Example:
    >>> plan = plan_sync(load_policy_file("access.yaml"), provider)   # doctest: +SKIP
    >>> apply_sync(plan, provider)                                    # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phlo_lakehouse.access.policy import AccessPolicy, Effect, Permission, normalize_principal
from phlo_lakehouse.access.store import AccessControlProvider
from phlo_lakehouse.errors import InvalidInput

_HINT = "see docs/access-control.md for the file format"


@dataclass(frozen=True)
class PolicyFile:
    """A validated policy file: one entry per (principal, resource, permission, effect)."""

    policies: frozenset[tuple[str, str, str, str]]
    members: frozenset[tuple[str, str]]


@dataclass
class SyncPlan:
    """What a sync would change."""

    grant: list[tuple[str, str, str, str]] = field(default_factory=list)
    revoke: list[tuple[str, str, str, str]] = field(default_factory=list)
    add_members: list[tuple[str, str]] = field(default_factory=list)
    remove_members: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.grant or self.revoke or self.add_members or self.remove_members)

    def to_dict(self) -> dict[str, Any]:
        return {k: [list(x) for x in v] for k, v in self.__dict__.items()}


def load_policy_file(path: str | Path) -> PolicyFile:
    """Read and validate a policy file.

    Raises:
        InvalidInput: unreadable YAML, wrong shape, unknown permission or effect, bad principal or
            resource — one line naming the entry.
    """
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as e:
        raise InvalidInput(f"policy file {path} does not exist", hint=_HINT) from e
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise InvalidInput(f"policy file {path} is not valid YAML{line}", hint=_HINT) from e
    return parse_policy_data(data, source=str(path))


def parse_policy_data(data: Any, *, source: str = "policy file") -> PolicyFile:
    """Validate already-parsed policy data (see `load_policy_file`)."""
    if data is None:
        data = {}
    if not isinstance(data, dict) or set(data) - {"groups", "policies"}:
        raise InvalidInput(
            f"{source} must be a mapping with 'groups' and/or 'policies'", hint=_HINT
        )
    members = set()
    for group, users in (data.get("groups") or {}).items():
        if not isinstance(users, list):
            raise InvalidInput(f"{source}: group {group!r} must list its members", hint=_HINT)
        name = str(group) if str(group).startswith("group:") else f"group:{group}"
        for user in users:
            members.add((normalize_principal(name), normalize_principal(str(user))))
    entries = set()
    for index, entry in enumerate(data.get("policies") or [], start=1):
        if not isinstance(entry, dict) or not {"principal", "resource", "permissions"} <= set(
            entry
        ):
            raise InvalidInput(
                f"{source}: policy #{index} needs principal, resource and permissions", hint=_HINT
            )
        unknown = set(entry) - {"principal", "resource", "permissions", "effect"}
        if unknown:
            raise InvalidInput(
                f"{source}: policy #{index} has unknown key(s) {', '.join(sorted(unknown))}",
                hint=_HINT,
            )
        permissions = entry["permissions"]
        if isinstance(permissions, str):
            permissions = [permissions]
        try:
            policy = AccessPolicy.parse(
                str(entry["principal"]),
                str(entry["resource"]),
                permissions,
                entry.get("effect", "allow"),
            )
        except InvalidInput as e:
            raise InvalidInput(f"{source}: policy #{index}: {e.message}", hint=e.hint) from e
        for permission in policy.permissions:
            entries.add((policy.principal, policy.resource, permission.value, policy.effect.value))
    return PolicyFile(frozenset(entries), frozenset(members))


def plan_sync(wanted: PolicyFile, provider: AccessControlProvider) -> SyncPlan:
    """The changes that make ``provider`` hold exactly ``wanted``."""
    current = {
        (p.principal, p.resource, perm.value, p.effect.value)
        for p in provider.list_policies()
        for perm in p.permissions
    }
    current_members = {(g, m) for g, ms in provider.memberships().items() for m in ms}
    return SyncPlan(
        grant=sorted(wanted.policies - current),
        revoke=sorted(current - wanted.policies),
        add_members=sorted(wanted.members - current_members),
        remove_members=sorted(current_members - wanted.members),
    )


def apply_sync(plan: SyncPlan, provider: AccessControlProvider) -> None:
    """Carry out ``plan``."""
    for principal, resource, permission, effect in plan.grant:
        provider.grant(
            AccessPolicy(principal, resource, frozenset({Permission(permission)}), Effect(effect))
        )
    for principal, resource, permission, effect in plan.revoke:
        provider.revoke(principal, resource, [permission], effect)
    for group, member in plan.add_members:
        provider.add_member(group, member)
    for group, member in plan.remove_members:
        provider.remove_member(group, member)
