"""Access control and audit: policies checked on every operation, a tamper-evident audit log.

Example:
    >>> from phlo_lakehouse.access import (
    ...     AccessControlHook, AccessPolicy, SqlAccessControlProvider, SqlAuditLogger)
    >>> acl = SqlAccessControlProvider("sqlite:///.lakehouse/access.db")           # doctest: +SKIP
    >>> audit = SqlAuditLogger("sqlite:///.lakehouse/access.db")                   # doctest: +SKIP
    >>> hook = AccessControlHook(acl, audit)                                       # doctest: +SKIP
    >>> lakehouse = IcebergLakehouse(settings, hooks=[hook])                       # doctest: +SKIP
"""

from phlo_lakehouse.access.audit import AuditLogger, AuditRecord, SqlAuditLogger, VerifyReport
from phlo_lakehouse.access.enforcement import AccessControlHook
from phlo_lakehouse.access.policy import AccessPolicy, Decision, Effect, Permission
from phlo_lakehouse.access.store import AccessControlProvider, SqlAccessControlProvider

__all__ = [
    "AccessControlHook",
    "AccessControlProvider",
    "AccessPolicy",
    "AuditLogger",
    "AuditRecord",
    "Decision",
    "Effect",
    "Permission",
    "SqlAccessControlProvider",
    "SqlAuditLogger",
    "VerifyReport",
]
