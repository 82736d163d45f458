"""The SQL tables behind access control and audit, and engine creation (tables created once)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa


@lru_cache(maxsize=1)
def metadata_tables() -> dict[str, Any]:
    import sqlalchemy as sa

    meta = sa.MetaData()
    policies = sa.Table(
        "phlo_access_policies",
        meta,
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("resource", sa.String(500), nullable=False),
        sa.Column("permission", sa.String(40), nullable=False),
        sa.Column("effect", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("principal", "resource", "permission", "effect"),
    )
    members = sa.Table(
        "phlo_group_members",
        meta,
        sa.Column("group_name", sa.String(200), nullable=False),
        sa.Column("member", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "member"),
    )
    audit = sa.Table(
        "phlo_audit_log",
        meta,
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("resource", sa.String(500), nullable=False),
        sa.Column("operation", sa.String(80), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.Column("plan_digest", sa.String(64), nullable=True),
        sa.Column("details", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = sa.Table(
        "phlo_audit_head",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    return {"meta": meta, "policies": policies, "members": members, "audit": audit, "head": head}


def connect(url: str) -> sa.Engine:
    """An engine on ``url`` with the tables created (SQLite gets WAL and a busy timeout, so
    several processes can write the audit chain)."""
    import sqlalchemy as sa

    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        from pathlib import Path

        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60, "isolation_level": None}
        if ":memory:" in url:
            kwargs["poolclass"] = sa.pool.StaticPool
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock at BEGIN: chain appends serialize instead of
            # failing with "database is locked" on upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Several processes may open the store at once: create the tables one at a time.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7263510442)"))
        metadata_tables()["meta"].create_all(conn)
    return engine
