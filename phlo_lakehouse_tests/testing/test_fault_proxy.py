"""`FaultProxy` against real servers on loopback: each fault kind, rule matching, share and
count, chunked bodies, ``Expect: 100-continue`` and raw TCP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from phlo_lakehouse.testing.fault_proxy import FaultProxy
from phlo_lakehouse.testing.faults import Fault


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            body = b""
            while (size := int(self.rfile.readline().strip(), 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, body))
        payload = f"{self.command} {self.path} {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def proxy(server) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", server.server_address[1]) as p:
        yield p


def test_forwards_on_a_kept_alive_connection(proxy):
    with requests.Session() as session:
        answers = [session.post(f"{proxy.url}/t/{i}", data=b"abc").text for i in range(3)]
    assert answers == ["POST /t/0 3", "POST /t/1 3", "POST /t/2 3"]
    assert len(_Recorder.seen) == 3 and proxy.log.count("forwarded") == 3


def test_drop_request_never_reaches_the_server(proxy):
    fault = proxy.add(Fault("drop_request", method="POST", path=r"/commit", count=1))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/commit", data=b"x", timeout=5)
    assert _Recorder.seen == [] and fault.fired == 1
    assert requests.post(f"{proxy.url}/commit", data=b"x", timeout=5).status_code == 200
    assert len(_Recorder.seen) == 1


def test_drop_response_after_the_server_handled_the_request(proxy):
    proxy.add(Fault("drop_response", path=r"/commit"))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/commit", data=b"payload", timeout=5)
    assert _Recorder.seen == [("POST", "/commit", b"payload")]


def test_gateway_error_answers_a_status_after_the_server_handled_the_request(proxy):
    proxy.add(Fault("gateway_error", path=r"/commit", status=504, body=b"{}", count=1))
    lost = requests.post(f"{proxy.url}/commit", data=b"payload", timeout=5)
    assert lost.status_code == 504 and lost.content == b"{}"
    assert _Recorder.seen == [("POST", "/commit", b"payload")]
    assert requests.post(f"{proxy.url}/commit", data=b"again", timeout=5).text == "POST /commit 5"


def test_reset_status_and_delay(proxy):
    proxy.add(Fault("reset", path=r"/reset"))
    proxy.add(Fault("status", path=r"/busy", status=503, body=b'{"e": 1}'))
    proxy.add(Fault("delay", path=r"/slow", delay_s=0.3))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{proxy.url}/reset", timeout=5)
    busy = requests.get(f"{proxy.url}/busy", timeout=5)
    started = time.monotonic()
    slow = requests.get(f"{proxy.url}/slow", timeout=5)
    waited = time.monotonic() - started
    assert busy.status_code == 503 and busy.content == b'{"e": 1}'
    assert slow.text == "GET /slow 0" and waited >= 0.3
    assert [path for _, path, _ in _Recorder.seen] == ["/slow"]


def test_rewrite_replaces_the_body_the_client_gets(proxy):
    proxy.add(Fault("rewrite", rewrite=lambda request, body: body.upper() + request.body))
    assert requests.put(f"{proxy.url}/x", data=b"!", timeout=5).text == "PUT /X 1!"


def test_share_and_count_select_requests(proxy):
    some = proxy.add(Fault("status", path=r"/s", share=0.5, seed=3))
    codes = [requests.get(f"{proxy.url}/s", timeout=5).status_code for _ in range(40)]
    assert some.seen == 40 and some.fired == codes.count(503)
    assert 8 <= some.fired <= 32
    proxy.clear()
    twice = proxy.add(Fault("status", path=r"/c", count=2))
    codes = [requests.get(f"{proxy.url}/c", timeout=5).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200] and twice.exhausted


def test_chunked_bodies_and_expect_continue_pass_through(proxy):
    def chunks() -> Iterator[bytes]:
        yield b"hello "
        yield b"world"

    chunked = requests.post(f"{proxy.url}/chunked", data=chunks(), timeout=5)
    expect = requests.put(
        f"{proxy.url}/expect", data=b"12345", headers={"Expect": "100-continue"}, timeout=5
    )
    assert chunked.text == "POST /chunked 11" and expect.text == "PUT /expect 5"


def test_tcp_mode_pipes_bytes_and_matches_chunks():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def echo() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data[::-1])

    threading.Thread(target=echo, daemon=True).start()
    with FaultProxy("127.0.0.1", listener.getsockname()[1], mode="tcp") as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            client.sendall(b"abc")
            assert client.recv(16) == b"cba"
        proxy.add(Fault("drop_response", path="COMMIT"))
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            client.sendall(b"COMMIT")
            with pytest.raises(ConnectionError):
                data = client.recv(16)
                if not data:
                    raise ConnectionResetError("closed")
    listener.close()
