"""`AccessControlProvider` and its SQL implementation (SQLite by default, PostgreSQL tested).

Example:
    >>> acl = SqlAccessControlProvider("sqlite:///:memory:")
    >>> acl.grant(AccessPolicy.parse("group:eng", "lakehouse.raw.*", ["optimize"]))
    >>> acl.add_member("group:eng", "alice")
    >>> acl.check_permission("alice", "lakehouse.raw.events", "optimize")
    True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from phlo_lakehouse.access.policy import (
    AccessPolicy,
    Decision,
    Effect,
    Permission,
    decide,
    normalize_principal,
    validate_resource,
)


class AccessControlProvider(ABC):
    """Stores policies and group memberships and decides requests."""

    @abstractmethod
    def list_policies(self, principal: str | None = None) -> list[AccessPolicy]:
        """Every policy (of ``principal`` when given), sorted."""

    @abstractmethod
    def grant(self, policy: AccessPolicy) -> None:
        """Add ``policy`` (idempotent)."""

    @abstractmethod
    def revoke(
        self,
        principal: str,
        resource: str,
        permissions: Sequence[str | Permission] | None = None,
        effect: str | Effect | None = None,
    ) -> int:
        """Remove the principal's policies on exactly ``resource`` (only ``permissions`` and
        ``effect`` when given); returns how many permission entries were removed."""

    @abstractmethod
    def groups_of(self, user: str) -> list[str]:
        """Groups ``user`` belongs to."""

    @abstractmethod
    def add_member(self, group: str, user: str) -> None:
        """Put ``user`` in ``group``."""

    @abstractmethod
    def remove_member(self, group: str, user: str) -> None:
        """Take ``user`` out of ``group``."""

    @abstractmethod
    def memberships(self) -> dict[str, list[str]]:
        """group → members."""

    def decide(self, principal: str, resource: str, permission: str | Permission) -> Decision:
        """The decision for one request, with its reason."""
        user = normalize_principal(principal)
        identities = [user, *self.groups_of(user)]
        return decide(self.list_policies(), identities, resource, Permission.parse(permission))

    def check_permission(self, principal: str, resource: str, permission: str | Permission) -> bool:
        """True when ``principal`` may do ``permission`` on ``resource``."""
        return self.decide(principal, resource, permission).allowed


class SqlAccessControlProvider(AccessControlProvider):
    """Policies in two SQL tables (``phlo_access_policies``, ``phlo_group_members``).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///.lakehouse/access.db`` or ``postgresql+psycopg2://…``.
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from phlo_lakehouse.access.schema import connect, metadata_tables

        self.url = url
        self.engine = connect(url)
        self.tables = metadata_tables()
        self._sa = sa

    def list_policies(self, principal: str | None = None) -> list[AccessPolicy]:
        t = self.tables["policies"]
        query = self._sa.select(t.c.principal, t.c.resource, t.c.permission, t.c.effect)
        if principal is not None:
            query = query.where(t.c.principal == normalize_principal(principal))
        grouped: dict[tuple[str, str, str], set[Permission]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                grouped.setdefault((row.principal, row.resource, row.effect), set()).add(
                    Permission(row.permission)
                )
        return sorted(
            (
                AccessPolicy(p, r, frozenset(perms), Effect(e))
                for (p, r, e), perms in grouped.items()
            ),
            key=lambda x: (x.principal, x.resource, x.effect.value),
        )

    def grant(self, policy: AccessPolicy) -> None:
        t = self.tables["policies"]
        with self.engine.begin() as conn:
            for permission in sorted(policy.permissions, key=lambda p: p.value):
                key = {
                    "principal": policy.principal,
                    "resource": policy.resource,
                    "permission": permission.value,
                    "effect": policy.effect.value,
                }
                exists = conn.execute(
                    self._sa.select(t.c.principal).where(*(t.c[k] == v for k, v in key.items()))
                ).first()
                if exists is None:
                    conn.execute(t.insert().values(**key))

    def revoke(
        self,
        principal: str,
        resource: str,
        permissions: Sequence[str | Permission] | None = None,
        effect: str | Effect | None = None,
    ) -> int:
        t = self.tables["policies"]
        condition = [
            t.c.principal == normalize_principal(principal),
            t.c.resource == validate_resource(resource),
        ]
        if permissions is not None:
            values = [Permission.parse(p).value for p in permissions]
            condition.append(t.c.permission.in_(values))
        if effect is not None:
            condition.append(t.c.effect == Effect(getattr(effect, "value", effect)).value)
        with self.engine.begin() as conn:
            return conn.execute(t.delete().where(*condition)).rowcount or 0

    def groups_of(self, user: str) -> list[str]:
        t = self.tables["members"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._sa.select(t.c.group_name).where(t.c.member == normalize_principal(user))
            )
            return sorted(r.group_name for r in rows)

    def add_member(self, group: str, user: str) -> None:
        t = self.tables["members"]
        row = {"group_name": _group(group), "member": normalize_principal(user)}
        with self.engine.begin() as conn:
            if (
                conn.execute(
                    self._sa.select(t.c.member).where(*(t.c[k] == v for k, v in row.items()))
                ).first()
                is None
            ):
                conn.execute(t.insert().values(**row))

    def remove_member(self, group: str, user: str) -> None:
        t = self.tables["members"]
        with self.engine.begin() as conn:
            conn.execute(
                t.delete().where(
                    t.c.group_name == _group(group), t.c.member == normalize_principal(user)
                )
            )

    def memberships(self) -> dict[str, list[str]]:
        t = self.tables["members"]
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(self._sa.select(t.c.group_name, t.c.member)):
                found.setdefault(row.group_name, []).append(row.member)
        return {g: sorted(m) for g, m in sorted(found.items())}


def _group(name: str) -> str:
    text = name if name.startswith("group:") else f"group:{name}"
    principal = normalize_principal(text)
    return principal
