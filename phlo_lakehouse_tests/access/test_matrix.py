"""The permission matrix: principals × resources × operations with groups, wildcards and denies,
checked against the documented rules (deny wins, admin implies all, default deny)."""

import itertools

import pytest

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.access import AccessPolicy, Permission, SqlAccessControlProvider

POLICIES = [
    ("group:eng", "lakehouse.raw.*", ["read", "optimize", "expire"], "allow"),
    ("group:eng", "lakehouse.raw.secret", ["optimize"], "deny"),
    ("user:carol", "*", ["admin"], "allow"),
    ("user:carol", "lakehouse.pii.*", ["vacuum"], "deny"),
    ("group:ops", "lakehouse.*.*", ["vacuum"], "allow"),
    ("user:dave", "lakehouse.raw.events", ["read"], "allow"),
    ("group:ops", "lakehouse.raw.*", ["admin"], "deny"),
]
MEMBERS = [
    ("group:eng", "alice"),
    ("group:eng", "bob"),
    ("group:ops", "bob"),
    ("group:ops", "erin"),
]
PRINCIPALS = ["alice", "bob", "carol", "dave", "erin", "frank"]
RESOURCES = [
    "lakehouse.raw.events",
    "lakehouse.raw.secret",
    "lakehouse.pii.users",
    "lakehouse.mart.sales",
]
PERMISSIONS = list(Permission)


def expected(principal: str, resource: str, permission: Permission) -> bool:
    """The documented rule, written independently of the implementation."""
    import fnmatch

    ids = {f"user:{principal}"} | {g for g, m in MEMBERS if m == principal}
    matching = [
        (p, eff)
        for p, res, perms, eff in POLICIES
        if p in ids
        and fnmatch.fnmatchcase(resource, res)
        and (permission.value in perms or "admin" in perms)
    ]
    if any(eff == "deny" for _, eff in matching):
        return False
    return any(eff == "allow" for _, eff in matching)


@pytest.fixture(scope="module")
def acl(tmp_path_factory):
    provider = SqlAccessControlProvider(f"sqlite:///{tmp_path_factory.mktemp('acl')}/access.db")
    for principal, resource, perms, effect in POLICIES:
        provider.grant(AccessPolicy.parse(principal, resource, perms, effect))
    for group, member in MEMBERS:
        provider.add_member(group, member)
    return provider


@pytest.mark.parametrize(
    ("principal", "resource", "permission"),
    list(itertools.product(PRINCIPALS, RESOURCES, PERMISSIONS)),
)
def test_matrix_matches_the_documented_rules(acl, principal, resource, permission):
    assert acl.check_permission(principal, resource, permission) == expected(
        principal, resource, permission
    )


def test_spot_checks_of_the_rules(acl):
    assert acl.check_permission("alice", "lakehouse.raw.events", "optimize")  # group allow
    assert not acl.check_permission("alice", "lakehouse.raw.secret", "optimize")  # deny wins
    assert acl.check_permission("carol", "lakehouse.mart.sales", "migrate")  # admin implies all
    assert not acl.check_permission("carol", "lakehouse.pii.users", "vacuum")  # deny beats admin
    assert not acl.check_permission("bob", "lakehouse.raw.events", "read")  # ops deny admin on raw
    assert not acl.check_permission("frank", "lakehouse.raw.events", "read")  # default deny
    decision = acl.decide("alice", "lakehouse.raw.secret", "optimize")
    assert "denied by deny group:eng" in decision.reason


def test_grant_and_revoke_round_trip(tmp_path):
    acl = SqlAccessControlProvider(f"sqlite:///{tmp_path}/a.db")
    acl.grant(AccessPolicy.parse("alice", "lakehouse.raw.*", ["read", "write"]))
    assert acl.check_permission("alice", "lakehouse.raw.t", "write")
    assert acl.revoke("alice", "lakehouse.raw.*", ["write"]) == 1
    assert not acl.check_permission("alice", "lakehouse.raw.t", "write")
    assert acl.check_permission("alice", "lakehouse.raw.t", "read")
    assert [p.to_dict() for p in acl.list_policies("alice")] == [
        {
            "principal": "user:alice",
            "resource": "lakehouse.raw.*",
            "permissions": ["read"],
            "effect": "allow",
        }
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("alice", "lakehouse.raw.*", ["fly"]), "unknown permission 'fly'"),
        (("alice", "lakehouse.raw.*", []), "at least one permission"),
        (("robot:x", "lakehouse.raw.*", ["read"]), "principal"),
        (("alice", "raw events", ["read"]), "resource pattern"),
    ],
)
def test_bad_policies_are_rejected_with_a_hint(args, fragment):
    with pytest.raises(InvalidInput) as info:
        AccessPolicy.parse(*args)
    assert fragment in str(info.value) and info.value.hint
    with pytest.raises(InvalidInput):
        AccessPolicy.parse("alice", "lakehouse.*", ["read"], effect="maybe")
