"""Phlo's authorization policy backend decides our operations when Phlo enforces authorization:
the real ``phlo`` executable, Phlo's RBAC files (.phlo/authorization/roles.yaml, policies.yaml)
and Phlo's env identities; our own SQL policies still apply on top."""

import pytest

from phlo_lakehouse_tests.phlo_adapter.conftest import data_file_count, require_phlo

require_phlo()

TABLE = "demo.events"
ROLES = """
version: 1
roles:
  maintainer: {description: may maintain tables in demo}
  viewer: {description: may read}
subjects:
  users:
    alice: [maintainer]
    bob: [viewer]
"""
POLICIES = """
version: 1
policies:
  - policy_id: maintain-demo
    effect: allow
    principal: {roles: [maintainer]}
    action: dataset.write
    resource: {type: dataset, id_pattern: "demo.*"}
  - policy_id: read-everything
    effect: allow
    principal: {roles: [maintainer, viewer]}
    action: dataset.read
    resource: {type: dataset, id_pattern: "*"}
  - policy_id: read-the-catalog
    effect: allow
    principal: {roles: [maintainer, viewer]}
    action: catalog.read
    resource: {type: catalog, id_pattern: "*"}
"""


@pytest.fixture
def governed(project):
    rbac = project.root / ".phlo" / "authorization"
    rbac.mkdir(parents=True)
    (rbac / "roles.yaml").write_text(ROLES)
    (rbac / "policies.yaml").write_text(POLICIES)
    project.extra_env.update(PHLO_AUTHORIZATION_BACKEND="default", PHLO_AUTH_TYPE="user")
    return project


def test_a_viewer_may_plan_but_not_apply(governed):
    files = data_file_count(governed.lakehouse, TABLE)
    done, plan, plan_file = governed.plan("compact", TABLE, PHLO_AUTH_SUBJECT="bob")
    assert done.returncode == 0, done.stderr
    assert plan["status"] == "planned"

    done, result = governed.apply(plan_file, PHLO_AUTH_SUBJECT="bob")
    assert done.returncode == 1
    assert result["status"] == "blocked"
    assert result["failure"]["code"] == "access_denied"
    assert "dataset.write" in result["failure"]["message"]
    assert data_file_count(governed.lakehouse, TABLE) == files
    assert governed.journal(f"compact:{TABLE}:main")["state"] == "failed"


def test_a_maintainer_applies(governed):
    done, _, plan_file = governed.plan("compact", TABLE, PHLO_AUTH_SUBJECT="alice")
    assert done.returncode == 0, done.stderr
    done, result = governed.apply(plan_file, PHLO_AUTH_SUBJECT="alice")
    assert done.returncode == 0, done.stderr
    assert result["status"] == "succeeded"


def test_nobody_in_the_policy_may_not_even_plan(governed):
    done, plan, _ = governed.plan("compact", TABLE, PHLO_AUTH_SUBJECT="mallory")
    assert done.returncode == 1
    assert plan["status"] == "blocked"
    assert plan["failure"]["code"] == "access_denied"
    assert "dataset.read" in plan["failure"]["message"]


def test_our_sql_policies_apply_too_and_audit_the_attempt(governed, tmp_path):
    from phlo_lakehouse.access import SqlAuditLogger

    governed.extra_env.update(
        PHLO_LAKEHOUSE_ACCESS_CONTROL="true",
        PHLO_LAKEHOUSE_ACCESS_DB=f"sqlite:///{tmp_path}/access.db",
    )
    # alice may do it in Phlo, but our store (default deny) has no grant for her.
    done, plan, _ = governed.plan("compact", TABLE, PHLO_AUTH_SUBJECT="alice")
    assert done.returncode == 1
    assert plan["failure"]["code"] == "access_denied"
    assert "lacks permission" in plan["failure"]["message"]
    records = SqlAuditLogger(f"sqlite:///{tmp_path}/access.db").records()
    assert [(r.principal, r.outcome) for r in records][-1:] == [("user:alice", "denied")]
    assert plan["accepted"] is False


@pytest.mark.nessie
@pytest.mark.moto
def test_catalog_level_operations_ask_for_catalog_actions(governed, nessie_lakehouse, s3_endpoint):
    from urllib.parse import urlparse

    nessie, s3 = urlparse(nessie_lakehouse.settings.uri), urlparse(s3_endpoint)
    nessie_env = {
        "PHLO_LAKEHOUSE_CATALOG_TYPE": "",
        "PHLO_LAKEHOUSE_CATALOG_URI": "",
        "PHLO_LAKEHOUSE_CATALOG_NAME": "",
        "PHLO_LAKEHOUSE_WAREHOUSE": "",
        "NESSIE_HOST": nessie.hostname,
        "NESSIE_PORT": str(nessie.port),
        "MINIO_HOST": s3.hostname,
        "MINIO_API_PORT": str(s3.port),
        "MINIO_ROOT_USER": "testing",
        "MINIO_ROOT_PASSWORD": "testing",
        "ICEBERG_WAREHOUSE_PATH": nessie_lakehouse.settings.warehouse or "warehouse",
        "PHLO_AUTH_SUBJECT": "bob",
    }
    # Nessie GC previews are catalog.read: the viewer may.
    done = governed.phlo("lakehouse", "gc", "--dry-run", **nessie_env)
    assert done.returncode == 0, done.stderr
    # Collecting (here only listing candidates in a file) is catalog.manage: refused first.
    deferred = governed.root / "candidates.txt"
    done = governed.phlo("lakehouse", "gc", "--defer", str(deferred), "--yes", **nessie_env)
    assert done.returncode != 0
    assert "Phlo denies bob catalog.manage on catalog" in done.stderr
    assert not deferred.exists()
