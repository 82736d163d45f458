"""Which files storage holds under a location, with locations normalised so that listed paths
and the paths metadata records compare equal (``s3a://`` is ``s3://``, ``file:/x`` is ``/x``).

Example:
    >>> normalize_location("file:/tmp/x") == normalize_location("/tmp/x")
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.retry import STORAGE_RETRY, is_transient
from phlo_lakehouse.storage.parallel import READ_THREADS, parallel_map

if TYPE_CHECKING:
    from pyiceberg.io import FileIO


#: Directory levels `list_storage` lists one at a time before listing each subtree in parallel.
LISTING_LEVELS = 2


_SCHEME_EQUIVALENTS = {"s3a": "s3", "s3n": "s3", "": "file"}


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file found in storage: its URI as listed, size, last modification time (ns since the
    epoch; `modified` as a datetime) and its `normalize_location` form."""

    path: str
    size: int
    modified_ns: int
    location: tuple[str, str, str]

    @property
    def modified(self) -> datetime:
        return datetime.fromtimestamp(self.modified_ns / 1e9, tz=UTC)


def normalize_location(uri: str) -> tuple[str, str, str]:
    """(scheme, authority, path) with s3a/s3n → s3 and file:/x, file:///x, /x → file.

    Plain string handling, not ``urllib``: object keys may hold ``?``, ``#`` or ``;``, which
    are part of the path here (a URL parser would cut them off), and vacuum normalizes every
    listed file, so this must be cheap.

    Example:
        >>> normalize_location("file:/tmp/x") == normalize_location("/tmp/x")
        True
        >>> normalize_location("s3a://bucket/a//b#1/")
        ('s3', 'bucket', '/a/b#1')
    """
    scheme, authority, path = "", "", uri
    prefix = _SCHEME.match(uri)
    if prefix:
        scheme, path = prefix.group(1).lower(), uri[prefix.end() :]
        if path.startswith("//"):
            authority, slash, rest = path[2:].partition("/")
            path = slash + rest
    scheme = _SCHEME_EQUIVALENTS.get(scheme, scheme)
    if scheme == "file":
        authority = ""
    while "//" in path:
        path = path.replace("//", "/")
    return scheme, authority, path.rstrip("/") or "/"


def list_storage(io: FileIO, location: str) -> list[StoredFile]:
    """Every file under ``location`` (recursively) with size and modification time.

    Uses pyarrow's filesystems configured from the table's FileIO properties, so s3://, gs://,
    abfs://, hdfs:// and file:// all work with the table's own credentials and endpoint.
    """
    from pyarrow.fs import FileSelector, FileType
    from pyiceberg.io.pyarrow import PyArrowFileIO

    arrow_io = io if isinstance(io, PyArrowFileIO) else PyArrowFileIO(io.properties)
    scheme, netloc, path = PyArrowFileIO.parse_location(location, io.properties)
    fs = arrow_io.fs_by_scheme(scheme, netloc)
    prefix = "file://" if scheme == "file" else f"{scheme}://"
    file_type, directory_type = FileType.File, FileType.Directory

    def stored(infos: Iterable[Any]) -> list[StoredFile]:
        return [
            _stored(prefix + info.path, info.path, info.size or 0, info.mtime_ns or 0, scheme)
            for info in infos
            if info.type == file_type
        ]

    # The top LISTING_LEVELS directory levels one by one, then each directory found there
    # recursively, several at a time (object stores list a prefix page by page; local
    # listings release the GIL while in the filesystem).
    def listing(directory: str, recursive: bool = False) -> list[Any]:
        # A throttled or dropped listing is listed again (the one retry layer): a listing
        # that gave up would only keep files, but the operation would fail for nothing.
        return STORAGE_RETRY.call(
            lambda: fs.get_file_info(
                FileSelector(directory, recursive=recursive, allow_not_found=True)
            ),
            retry_if=is_transient,
        ).value

    files: list[StoredFile] = []
    directories = [path]
    for _ in range(LISTING_LEVELS):
        below: list[str] = []
        for directory in directories:
            infos = listing(directory)
            files += stored(infos)
            below += [info.path for info in infos if info.type == directory_type]
        directories = below

    def subtree(directory: str) -> list[StoredFile]:
        return stored(listing(directory, recursive=True))

    threads = 4 if scheme == "file" else READ_THREADS
    for found in parallel_map(subtree, directories, threads):
        files += found
    return files


def _stored(uri: str, listed: str, size: int, mtime_ns: int, scheme: str) -> StoredFile:
    """A listed file; its normalized location straight from the listing's own path (the
    filesystem path, or ``bucket/key`` for object stores), without parsing the URI."""
    if "//" in listed or listed.endswith("/"):
        return StoredFile(uri, size, mtime_ns, normalize_location(uri))
    if scheme == "file":
        return StoredFile(uri, size, mtime_ns, ("file", "", listed))
    authority, _, key = listed.partition("/")
    location = (_SCHEME_EQUIVALENTS.get(scheme, scheme), authority, f"/{key}")
    return StoredFile(uri, size, mtime_ns, location)


def threads_for(location: str) -> int:
    """Threads to read metadata files at ``location`` with: one for local files (reading them is
    Avro decoding under the GIL, where threads only contend), `READ_THREADS` for remote storage
    (where each read mostly waits on the network)."""
    return 1 if normalize_location(location)[0] == "file" else READ_THREADS
