"""Faults a `FaultProxy` injects: what to match (method, path, a share, a count) and what to do.

Kinds, in the order a request meets them:

- ``drop_request``: read the request, close the connection without forwarding it (the server
  never sees it; the client sees a connection closed without a response);
- ``reset``: read the request, reset the connection (TCP RST) without forwarding it;
- ``status``: answer ``status`` (503 by default) with ``body`` instead of forwarding;
- ``delay``: wait ``delay_s`` before forwarding (the request then proceeds normally);
- ``drop_response``: forward the request, read the server's whole response (so the server has
  applied it), then close the client's connection without sending it — a lost response;
- ``gateway_error``: forward, read the server's whole response, then answer ``status`` with
  ``body`` instead — a gateway (load balancer) timing out on a request the server applied;
- ``rewrite``: forward, then send the client ``rewrite(request, response_body)``'s bytes as the
  body instead (headers adjusted) — e.g. per-key errors in an S3 ``DeleteObjects`` answer.

For a raw TCP proxy (PostgreSQL) ``method`` is ignored and ``path`` is matched against the bytes
of each chunk the client sends (``drop_request`` / ``reset`` / ``delay`` / ``drop_response``).

Example:
    >>> fault = Fault("drop_response", method="POST", path=r"/v1/.*/tables/", count=1)
    >>> fault.matches("POST", "/iceberg/main/v1/ns/tables/t"), fault.matches("GET", "/v1/config")
    (True, False)
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = ("drop_request", "reset", "status", "delay", "drop_response", "gateway_error", "rewrite")
#: Kinds that stop the request before the server sees it.
BEFORE_FORWARDING = ("drop_request", "reset", "status")

#: An S3-style throttling answer (what S3 sends when it wants the client to slow down).
S3_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
#: A JSON error body in the Iceberg REST shape.
REST_UNAVAILABLE = (
    b'{"error": {"message": "injected: service unavailable", '
    b'"type": "ServiceUnavailableException", "code": 503}}'
)


@dataclass(frozen=True)
class HttpRequest:
    """A request as the proxy read it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


@dataclass(eq=False)
class Fault:
    """One fault rule; the proxy applies the first rule that matches and still has a count.

    Args:
        kind: one of `KINDS`.
        method: HTTP method to match, a regular expression matched in full ("PUT|POST";
            None: any).
        path: regular expression searched in the request target (path and query); for a TCP
            proxy, in the client's bytes. None: any.
        share: probability of firing on a matching request (1.0: always).
        count: fire at most this many times (None: without limit).
        delay_s: the wait of ``delay``.
        status, body, content_type: the answer of ``status``.
        rewrite: the body transformer of ``rewrite``.
        seed: seeds the random choice of ``share`` (reproducible trials).
    """

    kind: str
    method: str | None = None
    path: str | None = None
    share: float = 1.0
    count: int | None = None
    delay_s: float = 0.0
    status: int = 503
    body: bytes = b""
    content_type: str = "application/json"
    rewrite: Callable[[HttpRequest, bytes], bytes] | None = None
    seed: int | None = None
    #: matching requests seen / times fired (read them from the test)
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)
    _random: random.Random = field(init=False, repr=False)
    _pattern: re.Pattern[str] | None = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "rewrite" and self.rewrite is None:
            raise ValueError("a rewrite fault needs rewrite=callable(request, body) -> bytes")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share={self.share} is not between 0 and 1")
        self._random = random.Random(self.seed)
        self._pattern = re.compile(self.path) if self.path else None

    def matches(self, method: str | None, target: str) -> bool:
        """Whether the rule applies to this request (regardless of share and count)."""
        if self.method and method is not None:
            if not re.fullmatch(self.method, method, flags=re.IGNORECASE):
                return False
        return self._pattern is None or self._pattern.search(target) is not None

    def decide(self, method: str | None, target: str) -> bool:
        """Count a matching request and decide whether the rule fires on it."""
        if not self.matches(method, target):
            return False
        with self._lock:
            self.seen += 1
            if self.count is not None and self.fired >= self.count:
                return False
            if self.share < 1.0 and self._random.random() >= self.share:
                return False
            self.fired += 1
            return True

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


@dataclass
class FaultLog:
    """What the proxy saw: one (method, target, outcome) per request, in order."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, method: str, target: str, outcome: str) -> None:
        with self._lock:
            self.entries.append((method, target, outcome))

    def count(self, outcome: str | None = None, method: str | None = None) -> int:
        """Requests with this outcome ("forwarded" or a fault kind) and method."""
        with self._lock:
            return sum(
                1
                for m, _, o in self.entries
                if (outcome is None or o == outcome) and (method is None or m == method)
            )
