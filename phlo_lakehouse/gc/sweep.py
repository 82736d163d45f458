"""The sweep phase: list every table base location, classify what is listed against the live set,
and delete the candidates in batches.

- **Which locations.** The base locations the mark phase found (live tables and tables with no
  live version left). A location inside another one is listed once, as part of the outer one; a
  location that is the root of a bucket or file system is never swept (it would hold more than one
  table's files). Nothing outside these locations is ever listed, so nothing outside them is ever
  deleted.
- **Candidates.** A listed file is a candidate when no live entry has its normalized path and
  prefix (exact, inside the store) and it was last modified before the grace cutoff.
- **Deletes** go through the one deletion module (`phlo_lakehouse.storage.delete_files`: S3
  ``DeleteObjects`` with 1,000 keys per request, transient failures retried), 1,000 candidates per
  call; what could not be deleted is reported with the reason.

Example:
    >>> listed, skipped = list_bases(store, store.bases(), properties)   # doctest: +SKIP
    >>> outcome = delete_in_batches(store, io)                           # doctest: +SKIP
    >>> outcome.deleted, outcome.failed                                  # doctest: +SKIP
    (12, {})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from phlo_lakehouse.gc.listing import LIST_THREADS, list_location
from phlo_lakehouse.storage.listing import normalize_location

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

    from phlo_lakehouse.gc.store import LiveSetStore

log = logging.getLogger(__name__)
#: Candidates per delete call (an S3 DeleteObjects request takes at most 1,000 keys).
DELETE_BATCH = 1000


def sweep_roots(bases: Sequence[str]) -> tuple[list[str], list[str]]:
    """(locations to list, locations never swept): nested locations folded into the outer one,
    bucket and file-system roots left out.

    Example:
        >>> sweep_roots(["s3://b/t", "s3://b/t/data", "s3://b/u", "s3://c"])
        (['s3://b/t', 's3://b/u'], ['s3://c'])
    """
    roots: list[str] = []
    skipped: list[str] = []
    seen: list[tuple[str, str, str]] = []
    for base in sorted(set(bases), key=lambda b: normalize_location(b)):
        scheme, authority, path = normalize_location(base)
        if path in ("", "/"):
            skipped.append(base)
            continue
        inside = any(
            (scheme, authority) == s[:2] and (path == s[2] or path.startswith(s[2] + "/"))
            for s in seen
        )
        if not inside:
            seen.append((scheme, authority, path))
            roots.append(base)
    return roots, skipped


def list_bases(
    store: LiveSetStore,
    bases: Sequence[str],
    properties: Mapping[str, str],
    *,
    threads: int = LIST_THREADS,
) -> tuple[int, list[str]]:
    """List ``bases`` into the store; returns (files listed, locations never swept).

    Raises:
        OperationFailed: a location cannot be listed (before anything is deleted).
    """
    roots, skipped = sweep_roots(bases)
    listed = 0
    for root in roots:
        for page in list_location(root, properties, threads=threads):
            listed += store.add_listed(page)
    store.commit()
    log.info("listed %d files under %d base locations", listed, len(roots))
    return listed, skipped


@dataclass
class DeleteOutcome:
    """What `delete_in_batches` did: files and bytes deleted, failures (URI -> reason)."""

    deleted: int = 0
    deleted_bytes: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def delete_in_batches(
    store: LiveSetStore, io: FileIO, *, threads: int = LIST_THREADS
) -> DeleteOutcome:
    """Delete every candidate in the store, `DELETE_BATCH` at a time (metadata.json last)."""
    outcome = DeleteOutcome()
    for rows in store.candidates(DELETE_BATCH):
        uris = [uri for uri, _, _ in rows]
        failed = _delete(io, uris, threads)
        for uri, size, _ in rows:
            if uri in failed:
                outcome.failed[uri] = failed[uri]
            else:
                outcome.deleted += 1
                outcome.deleted_bytes += size
    return outcome


def _delete(io: FileIO, uris: list[str], threads: int) -> dict[str, str]:
    """URI -> reason for each file of ``uris`` that could not be deleted (S3: DeleteObjects
    batches, retried; see `phlo_lakehouse.storage`)."""
    from phlo_lakehouse.storage import delete_files

    return dict(delete_files(io, uris, threads=threads).failed)
