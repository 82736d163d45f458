"""Policy files: validated first, synced by plan then apply; malformed files change nothing."""

import pytest

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.access import AccessPolicy, SqlAccessControlProvider
from phlo_lakehouse.access.policy_file import apply_sync, load_policy_file, plan_sync

GOOD = """
groups:
  eng: [alice, bob]
policies:
  - principal: group:eng
    resource: lakehouse.raw.*
    permissions: [read, optimize]
  - principal: user:mallory
    resource: "*"
    permissions: admin
    effect: deny
"""


@pytest.fixture
def acl(tmp_path):
    provider = SqlAccessControlProvider(f"sqlite:///{tmp_path}/access.db")
    provider.grant(AccessPolicy.parse("user:old", "lakehouse.*.*", ["vacuum"]))
    return provider


def test_sync_plans_then_applies_exactly_the_file(tmp_path, acl):
    path = tmp_path / "access.yaml"
    path.write_text(GOOD)
    plan = plan_sync(load_policy_file(path), acl)
    assert plan.grant == [
        ("group:eng", "lakehouse.raw.*", "optimize", "allow"),
        ("group:eng", "lakehouse.raw.*", "read", "allow"),
        ("user:mallory", "*", "admin", "deny"),
    ]
    assert plan.revoke == [("user:old", "lakehouse.*.*", "vacuum", "allow")]
    assert plan.add_members == [("group:eng", "user:alice"), ("group:eng", "user:bob")]
    assert acl.check_permission("old", "lakehouse.raw.t", "vacuum")  # planning changed nothing

    apply_sync(plan, acl)
    assert acl.check_permission("alice", "lakehouse.raw.t", "optimize")
    assert not acl.check_permission("old", "lakehouse.raw.t", "vacuum")
    assert plan_sync(load_policy_file(path), acl).empty


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("policies: [\n  - {principal: alice", "not valid YAML at line"),
        ("- just a list", "must be a mapping"),
        (
            "policies:\n  - {principal: alice, resource: 'lakehouse.*'}",
            "needs principal, resource and permissions",
        ),
        (
            "policies:\n  - {principal: alice, resource: x, permissions: [teleport]}",
            "unknown permission 'teleport'",
        ),
        (
            "policies:\n  - {principal: alice, resource: x, permissions: [read], effect: perhaps}",
            "effect",
        ),
        (
            "policies:\n  - {principal: alice, resource: x, permissions: [read], color: red}",
            "unknown key",
        ),
        ("groups:\n  eng: alice", "must list its members"),
    ],
)
def test_malformed_policy_files_give_one_line_errors_and_apply_nothing(
    tmp_path, acl, text, fragment
):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    before = acl.list_policies()
    with pytest.raises(InvalidInput) as info:
        load_policy_file(path)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value) and info.value.hint
    assert acl.list_policies() == before


def test_missing_policy_file(tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        load_policy_file(tmp_path / "nope.yaml")
