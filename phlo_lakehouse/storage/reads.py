"""Reading whole small objects (manifest lists, manifests) in one request each.

PyIceberg's `PyArrowFileIO` opens a file with pyarrow's ``open_input_file``/``open_input_stream``,
which on S3 sends a ``HEAD`` for the object's size before the ``GET``: two requests per manifest.
On S3 (a FileIO without a remote signer, see `supports_batch_delete`) `read_bytes` sends the one
``GET`` through a client configured like the table's FileIO (`s3_client`), transient failures
retried by the one retry layer; every other store is read through the FileIO as before.

Example:
    >>> data = read_bytes(table.io, snapshot.manifest_list)      # doctest: +SKIP
    >>> data[:4]                                                  # doctest: +SKIP
    b'Obj\\x01'
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.retry import STORAGE_RETRY, is_transient
from phlo_lakehouse.storage.parallel import READ_THREADS
from phlo_lakehouse.storage.s3 import is_s3_uri, s3_client, split_s3_uri, supports_batch_delete

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

_clients: dict[tuple[tuple[str, str], ...], Any] = {}
_lock = threading.Lock()
#: FileIO properties `s3_client` does not reproduce (FileIO assumes the role itself).
_FILEIO_ONLY = ("s3.role-arn", "client.role-arn")


def read_bytes(io: FileIO, path: str) -> bytes:
    """The whole content of ``path``: on S3 one ``GET``, elsewhere through ``io``.

    Raises:
        FileNotFoundError: there is no such object.
    """
    properties = io.properties
    if not is_s3_uri(path) or not direct_reads(properties):
        with io.new_input(path).open(seekable=False) as stream:
            return stream.read()
    client = _client(properties)
    bucket, key = split_s3_uri(path)

    def get() -> bytes:
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey as error:
            raise FileNotFoundError(f"Cannot open file, does not exist: {path}") from error

    return STORAGE_RETRY.call(get, retry_if=is_transient).value


def direct_reads(properties: Mapping[str, str]) -> bool:
    """True when `read_bytes` sends its own GET for S3 objects under these FileIO properties."""
    return supports_batch_delete(properties) and not any(properties.get(k) for k in _FILEIO_ONLY)


def _client(properties: Mapping[str, str]) -> Any:
    """One client per FileIO configuration (boto3 clients are safe to share between threads)."""
    key = tuple(sorted((str(k), str(v)) for k, v in properties.items()))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = s3_client(properties, max_connections=2 * READ_THREADS)
    return client
