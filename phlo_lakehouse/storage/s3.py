"""An S3 client configured like the table's FileIO, for requests FileIO does not offer
(``DeleteObjects``: up to 1,000 keys per request).

The client is built from the same properties PyIceberg's FileIO reads (``s3.endpoint``,
``s3.access-key-id`` or ``client.access-key-id``, ``s3.region``, ``s3.path-style-access``, …), so
it talks to the same store with the same credentials. Its own retries are off: the one retry
layer (`phlo_lakehouse.retry`) decides what is retried and how often.

Example:
    >>> split_s3_uri("s3a://bucket/warehouse/t/data/a.parquet")
    ('bucket', 'warehouse/t/data/a.parquet')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

S3_SCHEMES = ("s3", "s3a", "s3n")
#: Most keys one DeleteObjects request may carry.
MAX_KEYS_PER_DELETE = 1000


def is_s3_uri(uri: str) -> bool:
    """True for ``s3://``, ``s3a://`` and ``s3n://`` URIs."""
    scheme, sep, _ = uri.partition("://")
    return bool(sep) and scheme.lower() in S3_SCHEMES


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an S3 URI; the key exactly as written (object keys may hold ``//``)."""
    _, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    return bucket, key


def supports_batch_delete(properties: Mapping[str, str]) -> bool:
    """False when the FileIO signs requests through a remote signer (``s3.signer``), which a
    plain client cannot reproduce: those deletes go through FileIO one by one."""
    return not properties.get("s3.signer") and not properties.get("s3.signer.uri")


def s3_client(properties: Mapping[str, str], *, max_connections: int = 10) -> Any:
    """A boto3 S3 client for the store the FileIO ``properties`` describe, without retries."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    def first(*keys: str) -> str | None:
        for key in keys:
            value = properties.get(key)
            if value:
                return str(value)
        return None

    endpoint = first("s3.endpoint")
    virtual = _truthy(first("s3.force-virtual-addressing"))
    path_style = _truthy(first("s3.path-style-access")) or (bool(endpoint) and not virtual)
    config: dict[str, Any] = {
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "max_pool_connections": max(1, max_connections),
        "s3": {"addressing_style": "path" if path_style else "auto"},
    }
    if connect := first("s3.connect-timeout"):
        config["connect_timeout"] = float(connect)
    if request := first("s3.request-timeout"):
        config["read_timeout"] = float(request)
    if proxy := first("s3.proxy-uri"):
        config["proxies"] = {"http": proxy, "https": proxy}
    if _truthy(first("s3.anonymous")):
        config["signature_version"] = UNSIGNED
    session = boto3.session.Session(
        profile_name=first("s3.profile-name", "client.profile-name"),
        region_name=first("s3.region", "client.region"),
    )
    return session.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=first("s3.access-key-id", "client.access-key-id"),
        aws_secret_access_key=first("s3.secret-access-key", "client.secret-access-key"),
        aws_session_token=first("s3.session-token", "client.session-token"),
        config=Config(**config),
    )


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true", "yes", "on"}
