"""The one way phlo_lakehouse deletes files: S3 in batches, local files directly, the rest through
the table's FileIO, every transient failure retried, every lasting failure reported.

- **S3** (``s3://``, ``s3a://``, ``s3n://``): ``DeleteObjects`` with up to 1,000 keys per request,
  several requests at a time. A request that fails as a whole with a transient error (a dropped
  connection, a 5xx, ``SlowDown``) is sent again; a request that succeeds with per-key errors is
  sent again with only the keys whose error is transient (throttling, ``InternalError``), so a
  partially failed batch loses nothing. Keys with a lasting error (``AccessDenied``) are reported.
- **Local files**: unlinked directly, a few threads at a time.
- **Anything else** (``gs://``, ``abfs://``, ``hdfs://``, S3 behind a remote signer): FileIO's
  ``delete``, one file per call, transient errors retried.

A file that is already gone counts as deleted: deleting is idempotent, so a retry after a lost
response is safe. Nothing here raises for a file that could not be deleted: the result lists it
with the reason, and callers report it (operations list ``delete_failures`` and the CLI exits 1).

Example:
    >>> result = delete_files(table.io, orphan_paths)                  # doctest: +SKIP
    >>> result.deleted_count, dict(result.failed)                       # doctest: +SKIP
    (1412, {})
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.retry import STORAGE_RETRY, TRANSIENT_S3_CODES, RetryPolicy, is_transient
from phlo_lakehouse.storage.s3 import (
    MAX_KEYS_PER_DELETE,
    is_s3_uri,
    s3_client,
    split_s3_uri,
    supports_batch_delete,
)

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

#: Requests (S3 batches, FileIO deletes) in flight at once.
DELETE_THREADS = 8
#: Threads unlinking local files (unlink releases the GIL; more only contend for directory locks).
LOCAL_THREADS = 4


@dataclass(frozen=True)
class DeletionResult:
    """What `delete_files` did.

    Attributes:
        requested: distinct paths asked for.
        failed: path -> reason, for each file that could not be deleted (after retries).
        attempts: the most attempts any one request needed (1 when nothing was retried).
        retries: requests sent again in all (whole requests and partial S3 batches).
        requests: requests sent in all (S3 DeleteObjects, FileIO deletes; local unlinks are
            not requests).
    """

    requested: int
    failed: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 1
    retries: int = 0
    requests: int = 0

    @property
    def ok(self) -> bool:
        """True when every requested file is gone."""
        return not self.failed

    @property
    def deleted_count(self) -> int:
        return self.requested - len(self.failed)

    def deleted_from(self, paths: Iterable[str]) -> list[str]:
        """The members of ``paths`` that were deleted (``paths`` as passed to `delete_files`)."""
        return [p for p in paths if p not in self.failed]


def delete_files(
    io: FileIO,
    paths: Iterable[str],
    *,
    threads: int = DELETE_THREADS,
    policy: RetryPolicy = STORAGE_RETRY,
    batch_size: int = MAX_KEYS_PER_DELETE,
) -> DeletionResult:
    """Delete ``paths`` (full URIs, as table metadata and listings write them).

    Args:
        io: the table's FileIO: its properties configure the S3 client and it deletes files of
            other schemes.
        paths: files to delete; duplicates are deleted once; missing files count as deleted.
        threads: requests in flight at once.
        policy: how transient failures are retried (`STORAGE_RETRY` by default).
        batch_size: keys per S3 DeleteObjects request (at most 1,000, S3's limit).

    Returns:
        A `DeletionResult`; ``result.failed`` lists what could not be deleted and why.
    """
    targets = list(dict.fromkeys(paths))
    tally = _Tally()
    local = [p for p in targets if _is_local(p)]
    s3 = [p for p in targets if is_s3_uri(p)] if supports_batch_delete(io.properties) else []
    taken = set(local) | set(s3)
    other = [p for p in targets if p not in taken]
    if local:
        workers = max(1, min(threads, LOCAL_THREADS, len(local)))
        chunks = [local[i::workers] for i in range(workers)]
        for failures in _parallel(_unlink_all, chunks, workers):
            tally.failed.update(failures)
    if s3:
        _delete_s3(io.properties, s3, threads, policy, tally, batch_size)
    if other:
        _parallel(lambda p: _delete_one(io, p, policy, tally), other, threads)
    return DeletionResult(
        requested=len(targets),
        failed=dict(sorted(tally.failed.items())),
        attempts=tally.attempts,
        retries=tally.retries,
        requests=tally.requests,
    )


class _Tally:
    """Counters the worker threads share."""

    def __init__(self) -> None:
        self.failed: dict[str, str] = {}
        self.attempts = 1
        self.retries = 0
        self.requests = 0
        self._lock = threading.Lock()

    def record(self, attempts: int, requests: int, failed: Mapping[str, str]) -> None:
        with self._lock:
            self.attempts = max(self.attempts, attempts)
            self.retries += max(0, requests - 1) if requests else 0
            self.requests += requests
            self.failed.update(failed)


class SlowKeys(Exception):
    """Some keys of a DeleteObjects request failed with a transient error: send them again."""

    def __init__(self, code: str, count: int) -> None:
        super().__init__(f"{code} for {count} key(s)")
        self.code = code


def _retry_batch(error: BaseException) -> bool:
    return isinstance(error, SlowKeys) or is_transient(error)


def _delete_s3(
    properties: Mapping[str, str],
    uris: Sequence[str],
    threads: int,
    policy: RetryPolicy,
    tally: _Tally,
    batch_size: int,
) -> None:
    size = max(1, min(batch_size, MAX_KEYS_PER_DELETE))
    by_bucket: dict[str, list[tuple[str, str]]] = {}
    for uri in uris:
        bucket, key = split_s3_uri(uri)
        by_bucket.setdefault(bucket, []).append((key, uri))
    batches = [
        (bucket, entries[i : i + size])
        for bucket, entries in by_bucket.items()
        for i in range(0, len(entries), size)
    ]
    client = s3_client(properties, max_connections=min(threads, len(batches)))
    _parallel(lambda b: _delete_batch(client, b[0], b[1], policy, tally), batches, threads)


def _delete_batch(
    client: Any,
    bucket: str,
    entries: Sequence[tuple[str, str]],
    policy: RetryPolicy,
    tally: _Tally,
) -> None:
    """One DeleteObjects request (≤ 1,000 keys), re-sent for the keys that failed transiently."""
    uri_of = dict(entries)
    pending = list(uri_of)
    lasting: dict[str, str] = {}
    sent = 0
    try:
        for attempt in policy.retrying(_retry_batch):
            with attempt:
                sent += 1
                response = client.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": [{"Key": k} for k in pending], "Quiet": True},
                )
                again: list[str] = []
                codes: set[str] = set()
                for error in response.get("Errors") or []:
                    key, code = error.get("Key", ""), str(error.get("Code", ""))
                    if code == "NoSuchKey":
                        continue
                    if code in TRANSIENT_S3_CODES:
                        again.append(key)
                        codes.add(code)
                    else:
                        lasting[uri_of.get(key, key)] = f"{code}: {error.get('Message', '')}"
                pending = again
                if pending:
                    raise SlowKeys(", ".join(sorted(codes)), len(pending))
    except Exception as error:  # noqa: BLE001 - every key left is reported, never raised
        reason = _reason(error, sent)
        lasting.update({uri_of[k]: reason for k in pending})
    tally.record(sent, sent, lasting)


def _delete_one(io: FileIO, uri: str, policy: RetryPolicy, tally: _Tally) -> None:
    sent = 0

    def attempt() -> None:
        nonlocal sent
        sent += 1
        try:
            io.delete(uri)
        except FileNotFoundError:
            return

    try:
        policy.call(attempt, retry_if=is_transient)
    except Exception as error:  # noqa: BLE001 - reported in the result
        tally.record(sent, sent, {uri: _reason(error, sent)})
        return
    tally.record(sent, sent, {})


def _reason(error: BaseException, attempts: int) -> str:
    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
    if isinstance(error, SlowKeys):
        return f"{error}{suffix}"
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}{suffix}"


def _is_local(uri: str) -> bool:
    return uri.startswith("file:") or uri.startswith("/")


def _local_path(uri: str) -> str:
    """The file system path of ``file:/x``, ``file:///x``, ``file://host/x`` or ``/x``."""
    if not uri.startswith("file:"):
        return uri
    rest = uri[5:]
    if rest.startswith("//"):
        rest = rest[2:] if rest.startswith("///") else "/" + rest[2:].partition("/")[2]
    return rest


def _unlink_all(uris: Sequence[str]) -> dict[str, str]:
    """Unlink local ``uris``; the ones that failed with the reason (missing files count as gone)."""
    failed: dict[str, str] = {}
    for uri in uris:
        try:
            os.unlink(_local_path(uri))
        except FileNotFoundError:
            continue
        except OSError as error:
            failed[uri] = f"{type(error).__name__}: {error.strerror or error}"
    return failed


def _parallel(fn: Callable[[Any], Any], items: Sequence[Any], threads: int) -> list[Any]:
    if len(items) < 2 or threads < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(fn, items))
