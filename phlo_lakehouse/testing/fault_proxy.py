"""`FaultProxy`: an asyncio proxy on loopback that forwards to a real service and injects faults.

Put it between a client and Nessie's REST endpoint, moto (S3, Glue) or PostgreSQL and point the
client at ``proxy.url`` (or ``proxy.port``). In ``http`` mode it reads each HTTP/1.1 request and
response (Content-Length, chunked, or until close; ``Expect: 100-continue`` answered by the
proxy) so a `Fault` can match a method and path and act before forwarding, after the server
answered, or on the answer itself. In ``tcp`` mode it pipes bytes and matches each chunk the
client sends. Rules are added and removed at run time from the test's thread.

Why our own and not toxiproxy or mitmproxy: toxiproxy works on TCP streams only (it cannot match
a method or path, answer 503 or drop exactly one response after the server applied the request)
and is not packaged for PyPI or Debian; mitmproxy brings a large dependency tree that conflicts
with the pins here. The protocol subset we need is small and tested against the real services.

Example:
    >>> with FaultProxy("127.0.0.1", nessie_port) as proxy:               # doctest: +SKIP
    ...     fault = proxy.add(Fault("drop_response", method="POST", path="/tables/", count=1))
    ...     settings = CatalogSettings(type="nessie", uri=proxy.url + "/api/v1", ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

from phlo_lakehouse.testing.faults import Fault, FaultLog, HttpRequest

_NO_BODY_STATUS = (204, 304)


class FaultProxy:
    """A proxy to ``upstream_host:upstream_port`` on ``127.0.0.1:port`` (0: any free port).

    Use it as a context manager, or call `start` and `stop`.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        port: int = 0,
        mode: Literal["http", "tcp"] = "http",
    ) -> None:
        self.upstream = (upstream_host, int(upstream_port))
        self.mode = mode
        self.log = FaultLog()
        self._requested_port = port
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- control (test thread) -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, fault: Fault) -> Fault:
        """Add a rule (after the ones already there); returns it to read ``fired`` later."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        """Remove every rule: from now on everything is forwarded."""
        with self._lock:
            self._faults.clear()

    @contextlib.contextmanager
    def fault(self, fault: Fault) -> Iterator[Fault]:
        """The rule for the duration of a ``with`` block."""
        self.add(fault)
        try:
            yield fault
        finally:
            self.remove(fault)

    def trial(self, fault: Fault, run: Callable[[], object]) -> str:
        """Run ``run()`` with ``fault`` armed: "committed" when it returned, "unknown" when it
        raised `CommitStateUnknown` (anything else propagates). The fault is removed after.

        Raises:
            AssertionError: the fault never fired (the request it targets was not made).
        """
        from phlo_lakehouse.errors import CommitStateUnknown

        self.add(fault)
        try:
            run()
            outcome = "committed"
        except CommitStateUnknown:
            outcome = "unknown"
        finally:
            self.remove(fault)
        if not fault.fired:
            raise AssertionError(f"the {fault.kind} fault never fired: no request matched it")
        return outcome

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, "127.0.0.1", self._requested_port)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as error:  # noqa: BLE001 - handed to the starting thread
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _choose(self, method: str | None, target: str) -> Fault | None:
        with self._lock:
            faults = list(self._faults)
        for fault in faults:
            if fault.decide(method, target):
                return fault
        return None

    # -- serving (loop thread) -------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            if self.mode == "tcp":
                await self._pipe_tcp(reader, writer)
                return
            while True:
                request = await _read_request(reader, writer)
                if request is None:
                    return
                keep_open, upstream = await self._serve(request, writer, upstream)
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        except asyncio.CancelledError:
            return  # the proxy is stopping
        finally:
            if upstream is not None:
                upstream[1].close()
            if not writer.is_closing():
                writer.close()

    async def _serve(
        self,
        request: HttpRequest,
        writer: asyncio.StreamWriter,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None,
    ) -> tuple[bool, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
        """Answer one request; (keep the client connection open, the upstream connection)."""
        fault = self._choose(request.method, request.target)
        kind = fault.kind if fault else "forwarded"
        self.log.add(request.method, request.target, kind)
        if fault is not None and fault.kind == "drop_request":
            return False, upstream
        if fault is not None and fault.kind == "reset":
            _reset(writer)
            return False, upstream
        if fault is not None and fault.kind == "status":
            writer.write(_status_response(fault.status, fault.body, fault.content_type))
            await writer.drain()
            return True, upstream
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
        try:
            head, body, close_after, upstream = await self._forward(request, upstream)
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            partial = e.partial if isinstance(e, asyncio.IncompleteReadError) else b""
            if upstream is None or partial:
                raise
            upstream[1].close()  # the server closed it while idle, before reading the request
            head, body, close_after, upstream = await self._forward(request, None)
        up_writer = upstream[1]
        if close_after:
            up_writer.close()
            upstream = None
        if fault is not None and fault.kind == "drop_response":
            return False, upstream
        if fault is not None and fault.kind == "gateway_error":
            head, body = _status_response(fault.status, fault.body, fault.content_type), b""
        if fault is not None and fault.kind == "rewrite":
            assert fault.rewrite is not None
            head, body = _with_body(head, fault.rewrite(request, _decoded(head, body)))
        writer.write(head + body)
        await writer.drain()
        return not close_after, upstream

    async def _forward(self, request: HttpRequest, upstream: Any) -> tuple[Any, ...]:
        if upstream is None or upstream[1].is_closing():
            upstream = await asyncio.open_connection(*self.upstream)
        upstream[1].write(_serialize_request(request))
        await upstream[1].drain()
        return (*await _read_response(upstream[0], request.method), upstream)

    async def _pipe_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        dropping = asyncio.Event()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if dropping.is_set():
                    _reset(writer)
                    return
                writer.write(data)
                await writer.drain()
            writer.close()

        task = asyncio.ensure_future(downstream())
        try:
            while data := await reader.read(65536):
                text = data.decode("latin-1")
                fault = self._choose(None, text)
                self.log.add("TCP", text[:80], fault.kind if fault else "forwarded")
                if fault is not None and fault.kind in ("drop_request", "reset"):
                    _reset(writer)
                    return
                if fault is not None and fault.kind == "delay":
                    await asyncio.sleep(fault.delay_s)
                if fault is not None and fault.kind == "drop_response":
                    dropping.set()  # the server's answer to this chunk resets the client
                up_writer.write(data)
                await up_writer.drain()
            if up_writer.can_write_eof():
                up_writer.write_eof()  # the client is done: let the server see it
            await task
        finally:
            task.cancel()
            up_writer.close()


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> HttpRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = tuple(_header(line) for line in lines[1:] if line)
    request = HttpRequest(method, target, headers, b"")
    if (request.header("expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        headers = tuple((k, v) for k, v in headers if k.lower() != "expect")
    body = await _read_body(reader, request)
    return HttpRequest(method, target, headers, body)


async def _read_body(reader: asyncio.StreamReader, message: HttpRequest) -> bytes:
    """The body exactly as sent (chunked bodies keep their framing)."""
    if "chunked" in (message.header("transfer-encoding") or "").lower():
        return await _read_chunked(reader)
    length = int(message.header("content-length") or 0)
    return await reader.readexactly(length) if length else b""


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    raw = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        raw += size_line
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, then the empty line
                line = await reader.readuntil(b"\r\n")
                raw += line
                if line == b"\r\n":
                    return bytes(raw)
        raw += await reader.readexactly(size + 2)


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[bytes, bytes, bool]:
    """(head, body as sent, whether the server closes the connection after it)."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        if status >= 200 or status == 101:
            break  # 1xx informational answers are not passed on (the proxy sent its own 100)
    message = HttpRequest("", "", tuple(_header(line) for line in lines[1:] if line), b"")
    close = (message.header("connection") or "").lower() == "close" or lines[0].startswith(
        "HTTP/1.0"
    )
    if method == "HEAD" or status in _NO_BODY_STATUS:
        return head, b"", close
    if message.header("content-length") is None and "chunked" not in (
        message.header("transfer-encoding") or ""
    ):
        return head, await reader.read(), True  # delimited by the server closing
    return head, await _read_body(reader, message), close


def _decoded(head: bytes, body: bytes) -> bytes:
    if b"chunked" not in head.lower():
        return body
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def _with_body(head: bytes, body: bytes) -> tuple[bytes, bytes]:
    lines = head.decode("latin-1").split("\r\n")
    kept = [
        line
        for line in lines[1:]
        if line
        and _header(line)[0].lower()
        not in ("content-length", "transfer-encoding", "content-md5", "etag")
        and not _header(line)[0].lower().startswith("x-amz-checksum")
    ]
    new_head = "\r\n".join([lines[0], *kept, f"Content-Length: {len(body)}", "", ""])
    return new_head.encode("latin-1"), body


def _serialize_request(request: HttpRequest) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def _status_response(status: int, body: bytes, content_type: str) -> bytes:
    reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
              504: "Gateway Timeout"}  # fmt: skip
    head = (
        f"HTTP/1.1 {status} {reason.get(status, 'Injected')}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
