"""Streaming listings of table base locations, page by page, so a location with a million files
never sits in memory.

- **S3** (``s3://``, ``s3a://``, ``s3n://``): ``ListObjectsV2`` page by page (1,000 keys), with
  the client `phlo_lakehouse.storage.s3.s3_client` builds from the catalog's FileIO properties
  and each request retried on transient errors (`phlo_lakehouse.retry`). The location's top-level
  directories are listed in parallel.
- **Local files**: ``os.scandir``, directory by directory.
- **Anything else** (gs://, abfs://, hdfs://…): pyarrow's filesystem for the FileIO properties.

Only what lies strictly below the location is yielded (``events/`` never lists ``events_v2/``), and
hidden files are skipped as vacuum and Spark's ``remove_orphan_files`` do: names starting with
``.`` or ``_`` below the location, or inside such a directory, except Hive-style ``_col=value``
partition directories.

Example:
    >>> for page in list_location("s3://warehouse/raw/events_1f2e", props):  # doctest: +SKIP
    ...     print(page[0])
    ('s3://warehouse/raw/events_1f2e/data/a.parquet', 1024, 1767225600000000000)
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from phlo_lakehouse.errors import InvalidConfig, OperationFailed
from phlo_lakehouse.storage.listing import normalize_location

#: A listed file: (URI, size in bytes, modification time in ns since the epoch).
Listed = tuple[str, int, int]
S3_SCHEMES = ("s3", "s3a", "s3n")
LIST_THREADS = 8
_PAGE = 1000


def list_location(
    location: str, properties: Mapping[str, str], *, threads: int = LIST_THREADS
) -> Iterator[list[Listed]]:
    """Pages of the files below ``location`` (recursively), hidden files left out.

    Raises:
        InvalidConfig: the credentials cannot list the location (access denied, no such bucket,
            bad keys): fix the configuration, a retry cannot help.
        OperationFailed: the listing failed otherwise, after the retry layer's retries.
    """
    scheme = location.split("://", 1)[0].lower() if "://" in location else "file"
    try:
        if scheme in S3_SCHEMES:
            pages = _s3_pages(location, properties, threads)
        elif scheme == "file":
            pages = _local_pages(normalize_location(location)[2])
        else:
            pages = _arrow_pages(location, properties)
        base = normalize_location(location)[2].rstrip("/")
        for page in pages:
            visible = [f for f in page if not _hidden(normalize_location(f[0])[2], base)]
            if visible:
                yield visible
    except OperationFailed:
        raise
    except Exception as e:
        if _refused(e):
            raise InvalidConfig(
                f"the catalog's storage credentials cannot list {location}: {_first_line(e)}",
                hint="nothing was deleted; give the credentials (s3.* catalog properties, "
                "PHLO_LAKEHOUSE_S3_* or MINIO_*) list and delete rights on every table location",
            ) from e
        raise OperationFailed(
            f"cannot list {location}: {type(e).__name__}: {_first_line(e)}",
            hint="nothing was deleted; check that the storage is reachable and run the GC again",
        ) from e


#: S3 error codes that mean the credentials (or the location they point at) are wrong, not that
#: the store had a hiccup.
_REFUSED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AuthorizationHeaderMalformed",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidBucketName",
        "InvalidToken",
        "NoSuchBucket",
        "SignatureDoesNotMatch",
        "403",
        "404",
    }
)


def _refused(error: BaseException) -> bool:
    """True for errors a retry cannot cure: denied access, a missing bucket, bad keys."""
    if isinstance(error, PermissionError):
        return True
    response = getattr(error, "response", None)
    code = (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) in _REFUSED_CODES


def _s3_pages(location: str, properties: Mapping[str, str], threads: int) -> Iterator[list[Listed]]:
    from phlo_lakehouse.storage.s3 import s3_client

    scheme, rest = location.split("://", 1)
    bucket, _, key = rest.partition("/")
    prefix = key.strip("/") + "/" if key.strip("/") else ""
    client = s3_client(properties, max_connections=max(threads, 1))
    uri = f"{scheme}://{bucket}/"

    def page_of(contents: list[dict[str, Any]]) -> list[Listed]:
        return [
            (
                uri + o["Key"],
                int(o.get("Size") or 0),
                int(o["LastModified"].timestamp() * 1e6) * 1000,
            )
            for o in contents
            if not o["Key"].endswith("/")
        ]

    # The top level with a delimiter: its files, and the directories listed in parallel below.
    directories: list[str] = []
    for response in _list_objects(client, bucket, prefix, delimiter="/"):
        yield page_of(response.get("Contents") or [])
        directories += [p["Prefix"] for p in response.get("CommonPrefixes") or []]

    def walk(directory: str) -> Iterator[list[Listed]]:
        for response in _list_objects(client, bucket, directory):
            yield page_of(response.get("Contents") or [])

    yield from _parallel_pages([walk(d) for d in directories], threads)


def _list_objects(
    client: Any, bucket: str, prefix: str, *, delimiter: str | None = None
) -> Iterator[dict[str, Any]]:
    """ListObjectsV2 responses for ``prefix``, page by page, each request retried on transient
    errors by the one retry layer."""
    from phlo_lakehouse.retry import STORAGE_RETRY, is_transient

    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": _PAGE}
    if delimiter:
        request["Delimiter"] = delimiter
    while True:
        response = STORAGE_RETRY.call(
            lambda: client.list_objects_v2(**request), retry_if=is_transient
        ).value
        yield response
        token = response.get("NextContinuationToken")
        if not response.get("IsTruncated") or not token:
            return
        request["ContinuationToken"] = token


def _parallel_pages(
    producers: list[Iterator[list[Listed]]], threads: int
) -> Iterator[list[Listed]]:
    """Pages from several generators, each run in a worker thread, with a bounded queue (a slow
    consumer holds at most a few pages per worker in memory)."""
    if len(producers) <= 1 or threads <= 1:
        for producer in producers:
            yield from producer
        return
    pages: queue.Queue[Any] = queue.Queue(maxsize=threads * 2)
    work: queue.SimpleQueue[Iterator[list[Listed]] | None] = queue.SimpleQueue()
    for producer in producers:
        work.put(producer)
    workers = min(threads, len(producers))
    for _ in range(workers):
        work.put(None)
    stop = threading.Event()

    def run() -> None:
        try:
            while (producer := work.get()) is not None and not stop.is_set():
                for page in producer:
                    if stop.is_set():
                        return
                    pages.put(page)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            pages.put(e)
        finally:
            pages.put(StopIteration)

    pool = [threading.Thread(target=run, daemon=True) for _ in range(workers)]
    for thread in pool:
        thread.start()
    finished = 0
    try:
        while finished < workers:
            item = pages.get()
            if item is StopIteration:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        while any(t.is_alive() for t in pool):
            try:
                pages.get(timeout=0.1)
            except queue.Empty:
                pass


def _local_pages(root: str) -> Iterator[list[Listed]]:
    pending = [root]
    while pending:
        directory = pending.pop()
        page: list[Listed] = []
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                page.append((f"file://{entry.path}", stat.st_size, stat.st_mtime_ns))
        if page:
            yield page


def _arrow_pages(location: str, properties: Mapping[str, str]) -> Iterator[list[Listed]]:
    from pyarrow.fs import FileSelector, FileType
    from pyiceberg.io.pyarrow import PyArrowFileIO

    io = PyArrowFileIO(dict(properties))
    scheme, netloc, path = PyArrowFileIO.parse_location(location, dict(properties))
    fs = io.fs_by_scheme(scheme, netloc)
    infos = fs.get_file_info(FileSelector(path, recursive=True, allow_not_found=True))
    files = [
        (f"{scheme}://{info.path}", info.size or 0, info.mtime_ns or 0)
        for info in infos
        if info.type == FileType.File
    ]
    for start in range(0, len(files), _PAGE):
        yield files[start : start + _PAGE]


def _hidden(path: str, base: str) -> bool:
    """Hidden below ``base``: a name or directory starting with . or _ (not ``_col=value``);
    anything not strictly below ``base`` counts as hidden (never listed)."""
    if not path.startswith(base + "/"):
        return True
    relative = path[len(base) :]
    if "/." not in relative and "/_" not in relative:
        return False
    *directories, name = relative.strip("/").split("/")
    hidden_dir = any(d.startswith((".", "_")) and "=" not in d for d in directories)
    return name.startswith((".", "_")) or hidden_dir


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0][:200] if text else ""
