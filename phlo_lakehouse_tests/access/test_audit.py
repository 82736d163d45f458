"""The audit chain: complete and verifiable under concurrent writers; any edit, insertion or
deletion is detected."""

import multiprocessing
import sqlite3

import pytest

from phlo_lakehouse.access import SqlAuditLogger

WRITERS, PER_WRITER = 4, 25


def _write_records(url: str, writer: int) -> None:
    audit = SqlAuditLogger(url)
    for i in range(PER_WRITER):
        audit.log_access(
            f"user:w{writer}", f"lakehouse.raw.t{i % 3}", "optimize", "allow", "committed"
        )


def _run_writers(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_records, args=(url, w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0


def test_concurrent_processes_produce_one_complete_valid_chain_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/audit.db"
    _run_writers(url)
    audit = SqlAuditLogger(url)
    records = audit.records()
    assert [r.seq for r in records] == list(range(1, WRITERS * PER_WRITER + 1))
    assert {r.principal for r in records} == {f"user:w{w}" for w in range(WRITERS)}
    assert audit.verify().valid, audit.verify().problems


@pytest.mark.postgres
def test_concurrent_processes_produce_one_complete_valid_chain_on_postgres(postgres_url):
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS phlo_audit_log, phlo_audit_head"))
    _run_writers(postgres_url)
    audit = SqlAuditLogger(postgres_url)
    assert len(audit.records()) == WRITERS * PER_WRITER
    assert audit.verify().valid


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "audit.db"
    audit = SqlAuditLogger(f"sqlite:///{path}")
    for i in range(5):
        audit.log_access("user:alice", "lakehouse.raw.t", f"op{i}", "allow", "committed")
    assert audit.verify().valid
    return audit, path


def _sql(path, statement, *params):
    with sqlite3.connect(path) as conn:
        conn.execute(statement, params)


def test_an_edited_record_is_detected(chain):
    audit, path = chain
    _sql(path, "UPDATE phlo_audit_log SET outcome='denied' WHERE seq=3")
    assert audit.verify().problems == ["record 3 was edited (hash mismatch)"]


def test_a_deleted_record_is_detected(chain):
    audit, path = chain
    _sql(path, "DELETE FROM phlo_audit_log WHERE seq=2")
    problems = audit.verify().problems
    assert any("gap" in p for p in problems) and any("does not link" in p for p in problems)


def test_a_truncated_tail_is_detected(chain):
    audit, path = chain
    _sql(path, "DELETE FROM phlo_audit_log WHERE seq=5")
    assert audit.verify().problems == ["the chain head does not match the last record (truncated?)"]


def test_an_inserted_record_is_detected(chain):
    audit, path = chain
    row = audit.records()[2]
    _sql(
        path,
        "INSERT INTO phlo_audit_log VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        10,
        row.recorded_at,
        "user:mallory",
        row.resource,
        "vacuum",
        "allow",
        "committed",
        None,
        None,
        row.hash,
        row.hash,
    )
    problems = audit.verify().problems
    assert any("10" in p for p in problems)


def test_an_hmac_secret_is_needed_to_forge_a_record(tmp_path):
    url = f"sqlite:///{tmp_path}/audit.db"
    SqlAuditLogger(url, secret="s3cret").log_access("user:a", "r", "op", "allow", "ok")
    assert SqlAuditLogger(url, secret="s3cret").verify().valid
    assert not SqlAuditLogger(url).verify().valid  # without the key the hashes do not match
