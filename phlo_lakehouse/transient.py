"""Which errors a retry may cure, whichever client raised them.

A dropped, reset or refused connection, a timeout, an HTTP 5xx or 429, S3 throttling
(``SlowDown``) and S3 server errors are transient: requests, urllib3, botocore, pyarrow's and
fsspec's filesystems and PyIceberg's REST catalog each raise their own classes for them, and
pyarrow only says so in the message.

Example:
    >>> is_transient(ConnectionResetError()), is_transient(PermissionError("denied"))
    (True, False)
"""

from __future__ import annotations

#: S3 error codes that mean "try again" (throttling, a server-side hiccup).
TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "502",
        "504",
    }
)
#: Fragments of the messages pyarrow's and fsspec's filesystems raise for the same conditions.
_TRANSIENT_TEXT = (
    "slow down",
    "slow_down",
    "slowdown",
    "please reduce your request rate",
    "service unavailable",
    "internal error",
    "internalerror",
    "http response code: 5",
    "response code 5",
    "connection reset",
    "connection aborted",
    "connection refused",
    "broken pipe",
    "timed out",
    "curlcode: 7",
    "curlcode: 28",
    "curlcode: 52",
    "curlcode: 55",
    "curlcode: 56",
)


def is_transient(error: BaseException) -> bool:
    """True for errors a retry may cure: a dropped or refused connection, a timeout, an HTTP 5xx
    or 429, S3 throttling (``SlowDown``) and S3 server errors, whichever client raised them
    (requests, urllib3, botocore, pyarrow, aiohttp/fsspec, PyIceberg's REST catalog).

    Example:
        >>> is_transient(ConnectionResetError()), is_transient(PermissionError("denied"))
        (True, False)
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_here(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_here(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError):
        return True  # the builtins: reset, refused, aborted, broken pipe, timeouts
    module = type(error).__module__.split(".")[0]
    name = type(error).__name__
    if module in {"requests", "urllib3"}:
        return name in {
            "ConnectionError",
            "ChunkedEncodingError",
            "ReadTimeout",
            "ConnectTimeout",
            "Timeout",
            "ProtocolError",
            "NewConnectionError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
            "RemoteDisconnected",
            "IncompleteRead",
        }
    if module == "http" and name in {"RemoteDisconnected", "IncompleteRead"}:
        return True
    if module == "pyiceberg":
        return name in {"ServerError", "ServiceUnavailableError", "TooManyRequestsError"}
    if module == "botocore":
        if name == "ClientError":
            return _s3_code(error) in TRANSIENT_S3_CODES
        return name in {
            "EndpointConnectionError",
            "ConnectionClosedError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
            "ResponseStreamingError",
            "IncompleteReadError",
        }
    if module == "aiohttp":
        return name.startswith(("ClientConnector", "ServerDisconnected", "ClientOSError"))
    if isinstance(error, OSError):
        text = str(error).lower()
        return any(fragment in text for fragment in _TRANSIENT_TEXT)
    return False


def _s3_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code or str(status or "")
