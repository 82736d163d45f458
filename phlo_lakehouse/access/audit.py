"""`AuditLogger`: every access decision and outcome, in a tamper-evident hash chain.

Each record stores the hash of the previous record and its own hash over its fields (and the
previous hash), computed with HMAC-SHA256 when a secret is configured. The chain head (last
sequence number and hash) is kept in a separate table, updated in the same transaction.
`verify` recomputes the chain and reports edited records (hash mismatch), inserted or deleted
records (broken links or sequence gaps) and a truncated tail (head mismatch).

Appends take the database's write lock first (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``LOCK TABLE``), so several processes logging at once still produce one valid chain.

Example:
    >>> audit = SqlAuditLogger("sqlite:///:memory:")
    >>> audit.log_access("user:alice", "lakehouse.raw.t", "optimize", "allow", "committed")
    1
    >>> audit.verify().valid
    True
"""

from __future__ import annotations

import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    """One audited request."""

    seq: int
    recorded_at: str
    principal: str
    resource: str
    operation: str
    decision: str
    outcome: str
    plan_digest: str | None
    details: str | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class VerifyReport:
    """What `verify` found: ``valid`` and one line per problem."""

    records: int
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


class AuditLogger(ABC):
    """Where access decisions and outcomes are recorded."""

    @abstractmethod
    def log_access(
        self,
        principal: str,
        resource: str,
        operation: str,
        decision: str,
        outcome: str,
        *,
        plan_digest: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Append a record; returns its sequence number."""

    @abstractmethod
    def records(
        self, *, principal: str | None = None, limit: int | None = None
    ) -> list[AuditRecord]:
        """Records in sequence order (the newest ``limit`` when given)."""

    @abstractmethod
    def verify(self) -> VerifyReport:
        """Recompute the chain."""

    def check_available(self) -> None:  # noqa: B027 - optional: stores that can fail override it
        """Raise `AuditUnavailable` when records cannot be written now (default: never)."""


class SqlAuditLogger(AuditLogger):
    """The hash-chained audit log in SQL (``phlo_audit_log`` + ``phlo_audit_head``).

    Args:
        url: SQLAlchemy URL (SQLite by default, PostgreSQL for many writers).
        secret: optional HMAC key; without it the chain detects accidental and naive edits,
            with it an editor also needs the key.
    """

    def __init__(self, url: str, *, secret: str | None = None) -> None:
        import sqlalchemy as sa

        from phlo_lakehouse.access.schema import connect, metadata_tables

        self.url = url
        self.engine = connect(url)
        tables = metadata_tables()
        self.log, self.head = tables["audit"], tables["head"]
        self.secret = secret.encode() if secret else None
        self._sa = sa

    def check_available(self) -> None:
        """Open a transaction on the audit tables (what a record needs): an unreachable or
        refusing store raises `AuditUnavailable` before the operation changes anything."""
        import sqlalchemy as sa

        from phlo_lakehouse.errors import AuditUnavailable

        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text("SELECT COUNT(*) FROM phlo_audit_head"))
        except sa.exc.SQLAlchemyError as error:
            # Only statement errors carry the driver's exception (``orig``).
            cause = error.orig if isinstance(error, sa.exc.StatementError) else None
            cause = cause or error
            raise AuditUnavailable(
                f"the audit store is unreachable, so nothing was changed: "
                f"{type(cause).__name__}: {str(cause).strip()[:160]}",
                hint="access control is on: operations run only when they can be audited; "
                "check the access database (PHLO_LAKEHOUSE_ACCESS_DB / access_db_url)",
            ) from error

    def log_access(
        self,
        principal: str,
        resource: str,
        operation: str,
        decision: str,
        outcome: str,
        *,
        plan_digest: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        sa = self._sa
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("LOCK TABLE phlo_audit_head IN EXCLUSIVE MODE"))
            head = conn.execute(sa.select(self.head.c.seq, self.head.c.hash)).first()
            seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
            fields = {
                "seq": seq,
                "recorded_at": datetime.now(UTC).isoformat(timespec="microseconds"),
                "principal": principal,
                "resource": resource,
                "operation": operation,
                "decision": decision,
                "outcome": outcome[:200],
                "plan_digest": plan_digest,
                "details": json.dumps(details, sort_keys=True, default=str) if details else None,
                "prev_hash": prev,
            }
            digest = self._hash(fields)
            conn.execute(self.log.insert().values(**fields, hash=digest))
            if head is None:
                conn.execute(self.head.insert().values(id=1, seq=seq, hash=digest))
            else:
                conn.execute(
                    self.head.update().where(self.head.c.id == 1).values(seq=seq, hash=digest)
                )
        return seq

    def records(
        self, *, principal: str | None = None, limit: int | None = None
    ) -> list[AuditRecord]:
        query = self._sa.select(self.log).order_by(
            self.log.c.seq.desc() if limit else self.log.c.seq
        )
        if principal is not None:
            query = query.where(self.log.c.principal == principal)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = [AuditRecord(**row._asdict()) for row in conn.execute(query)]
        return sorted(rows, key=lambda r: r.seq)

    def verify(self) -> VerifyReport:
        rows = self.records()
        report = VerifyReport(records=len(rows))
        prev, expected_seq = GENESIS, 1
        for record in rows:
            if record.seq != expected_seq:
                report.problems.append(
                    f"sequence gap or insertion at seq {record.seq} (expected {expected_seq})"
                )
            if record.prev_hash != prev:
                report.problems.append(f"record {record.seq} does not link to the record before it")
            fields = {k: v for k, v in record.to_dict().items() if k != "hash"}
            if self._hash(fields) != record.hash:
                report.problems.append(f"record {record.seq} was edited (hash mismatch)")
            prev, expected_seq = record.hash, record.seq + 1
        with self.engine.connect() as conn:
            head = conn.execute(self._sa.select(self.head.c.seq, self.head.c.hash)).first()
        if rows and (head is None or head.seq != rows[-1].seq or head.hash != rows[-1].hash):
            report.problems.append("the chain head does not match the last record (truncated?)")
        if not rows and head is not None:
            report.problems.append("records were deleted: the head names records that are gone")
        return report

    def _hash(self, fields: dict[str, Any]) -> str:
        payload = json.dumps(fields, sort_keys=True, default=str).encode()
        if self.secret:
            return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()
        return hashlib.sha256(payload).hexdigest()
