"""Catalog-wide Nessie references: branches and tags, their logs, diffs and merges.

Example:
    >>> from phlo_lakehouse.nessie import NessieReferences
    >>> NessieReferences("http://127.0.0.1:19120").api_uri
    'http://127.0.0.1:19120/api/v1'
"""

from phlo_lakehouse.nessie.model import (
    NO_ANCESTOR_HASH,
    MergeResult,
    NessieCommit,
    NessieRef,
    TableChange,
    TableState,
)
from phlo_lakehouse.nessie.references import NessieReferences

__all__ = [
    "NO_ANCESTOR_HASH",
    "MergeResult",
    "NessieCommit",
    "NessieRef",
    "NessieReferences",
    "TableChange",
    "TableState",
]
