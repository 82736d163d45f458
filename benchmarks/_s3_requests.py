"""Counting S3 requests by kind: a loopback proxy in front of the S3 endpoint (moto) that logs
every request (the test suite's `FaultProxy`, with no fault rules: everything is forwarded).

Point a client at ``proxy.url`` instead of the endpoint; `RequestCounter.window` gives the
requests made between two moments, by kind.

Example:
    >>> counter = RequestCounter("http://127.0.0.1:5000").start()      # doctest: +SKIP
    >>> mark = counter.mark(); run(counter.url); counter.since(mark)    # doctest: +SKIP
    {'GET': 2001, 'HEAD': 2001, 'DeleteObjects': 7, 'PUT': 1}
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from phlo_lakehouse.testing.fault_proxy import FaultProxy

#: The kinds counted, in the order printed.
KINDS = ("HEAD", "GET", "LIST", "PUT", "DELETE", "DeleteObjects", "other")


def request_kind(method: str, target: str) -> str:
    """The S3 request kind of an HTTP request (path-style addressing)."""
    query = urlsplit(target).query
    params = {part.partition("=")[0] for part in query.split("&") if part}
    path = urlsplit(target).path.strip("/")
    if method == "HEAD":
        return "HEAD"
    if method == "GET":
        return "LIST" if "/" not in path or "list-type" in params else "GET"
    if method == "PUT" and not params - {"partNumber", "uploadId", "x-id"}:
        return "PUT"
    if method == "DELETE" and "/" in path:
        return "DELETE"
    if method == "POST" and "delete" in params:
        return "DeleteObjects"
    return "other"


class RequestCounter:
    """A logging proxy to ``endpoint`` (``http://host:port``) on a free loopback port."""

    def __init__(self, endpoint: str) -> None:
        parts = urlsplit(endpoint)
        self.proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 80)

    def start(self) -> RequestCounter:
        self.proxy.start()
        return self

    def stop(self) -> None:
        self.proxy.stop()

    @property
    def url(self) -> str:
        return self.proxy.url

    def mark(self) -> int:
        return len(self.proxy.log.entries)

    def since(self, mark: int) -> dict[str, int]:
        """Requests after ``mark`` by kind (kinds with none left out)."""
        entries = list(self.proxy.log.entries)[mark:]  # appends only: a copy is consistent
        counts = Counter(request_kind(method or "", target) for method, target, _ in entries)
        return {kind: counts[kind] for kind in KINDS if counts[kind]}


def format_counts(counts: dict[str, int]) -> str:
    """``total (GET 2001, HEAD 2001, ...)``."""
    total = sum(counts.values())
    return f"{total} (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
