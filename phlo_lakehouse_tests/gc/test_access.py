"""Nessie GC is a catalog-level operation of the one executor: access-checked with the ``vacuum``
permission on the catalog resource, audited and counted in the metrics — on the GC tests' Nessie."""

from __future__ import annotations

import time

import pytest

from phlo_lakehouse import AccessDenied, IcebergLakehouse
from phlo_lakehouse.access import AccessPolicy, SqlAccessControlProvider, SqlAuditLogger
from phlo_lakehouse.gc import NessieGCOperation
from phlo_lakehouse.hooks import HookSettings, build_hooks
from phlo_lakehouse.observability import PrometheusObservability
from phlo_lakehouse_tests.gc.histories import History
from phlo_lakehouse_tests.gc.oracle import bucket_files, put

pytestmark = [pytest.mark.nessie, pytest.mark.moto, pytest.mark.timeout(600)]


def _count(metrics, status):
    labels = {"operation": "nessie_gc", "status": status}
    return metrics.registry.get_sample_value("phlo_lakehouse_operations_total", labels) or 0


def test_gc_needs_vacuum_on_the_catalog_and_is_audited(gc_nessie, s3, tmp_path):
    gc_nessie.reset()
    location = History(gc_nessie.lakehouse()).create("main", "events", batches=2)
    put(s3, f"{location}/data/orphan.parquet")
    time.sleep(1.2)
    lakehouse = IcebergLakehouse(gc_nessie.settings())
    settings = HookSettings(access_control=True, home=str(tmp_path / "home"))
    metrics = PrometheusObservability()
    lakehouse.hooks = build_hooks(settings, lakehouse, metrics=metrics)
    acl, audit = (
        SqlAccessControlProvider(settings.access_url()),
        SqlAuditLogger(settings.access_url()),
    )
    acl.grant(AccessPolicy.parse("alice", "lakehouse", ["vacuum"]))
    acl.grant(AccessPolicy.parse("bob", "lakehouse.*", ["vacuum"]))  # every table, not the catalog
    acl.grant(AccessPolicy.parse("carol", "lakehouse", ["read"]))
    before = bucket_files(s3, gc_nessie.bucket)

    def gc(principal, dry_run=False):
        op = NessieGCOperation(cutoffs=["1"], older_than=1, force=True)
        return lakehouse.run_catalog(op, None, dry_run=dry_run, principal=principal)

    for principal in ("bob", "carol"):
        with pytest.raises(AccessDenied) as info:
            gc(principal)
        assert f"{principal} lacks permission 'vacuum' on lakehouse" in str(info.value)
    assert bucket_files(s3, gc_nessie.bucket) == before
    preview = gc("alice", dry_run=True)
    result = gc("alice")
    assert preview.figures["candidates"] == result.figures["deleted"] > 0
    records = audit.records()[-4:]
    assert [(r.principal, r.resource, r.operation, r.decision) for r in records] == [
        ("user:bob", "lakehouse", "nessie_gc", "deny"),
        ("user:carol", "lakehouse", "nessie_gc", "deny"),
        ("user:alice", "lakehouse", "nessie_gc", "allow"),
        ("user:alice", "lakehouse", "nessie_gc", "allow"),
    ]
    assert audit.verify().valid
    assert (_count(metrics, "denied"), _count(metrics, "dry_run"), _count(metrics, "success")) == (
        2,
        1,
        1,
    )
