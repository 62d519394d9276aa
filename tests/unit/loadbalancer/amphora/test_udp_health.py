"""The agent's health monitor of UDP pools, with real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tricircle_lb.loadbalancer.amphora import HealthMonitor
from tricircle_lb.loadbalancer.amphora.agent.udp_health import (
    HealthChecker,
    Target,
    http_check,
    probe,
    tcp_connect,
    udp_connect,
)


def _closed_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def udp_member() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


def _eventually(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_udp_connect_up_when_listening_down_on_icmp_unreachable(
        udp_member: socket.socket) -> None:
    port = udp_member.getsockname()[1]
    assert udp_connect("127.0.0.1", port, 0.3)
    assert udp_member.recv(10) == b""  # the probe is one empty datagram
    started = time.monotonic()
    assert not udp_connect("127.0.0.1", _closed_port(socket.SOCK_DGRAM), 2)
    assert time.monotonic() - started < 1  # the ICMP error, not the timeout, decided


def test_tcp_and_http_probes() -> None:
    codes: list[int] = [200]
    hosts: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers.get("Host"))
            self.send_response(codes[0] if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert tcp_connect("127.0.0.1", port, 1)
        assert not tcp_connect("127.0.0.1", _closed_port(socket.SOCK_STREAM), 1)
        hm = HealthMonitor("HTTP", 1, 1, 1, url_path="/health", expected_codes="200-204")
        assert http_check("127.0.0.1", port, 1, hm)
        codes[0] = 503
        assert not http_check("127.0.0.1", port, 1, hm)
        assert http_check("127.0.0.1", port, 1, HealthMonitor(
            "HTTP", 1, 1, 1, url_path="/health", expected_codes="500,503"))
        assert not http_check("127.0.0.1", port, 1, HealthMonitor("HTTP", 1, 1, 1))
        assert hosts[-1] == f"127.0.0.1:{port}"
        assert not http_check("127.0.0.1", port, 1, HealthMonitor(
            "HTTP", 1, 1, 1, domain_name="svc.example.org"))
        assert hosts[-1] == "svc.example.org"
        assert probe(Target("p", "m", "127.0.0.1", port, HealthMonitor("TCP", 1, 1, 1)))
    finally:
        server.shutdown()
        server.server_close()


def test_checker_marks_a_closed_member_down_and_a_reopened_one_up(
        udp_member: socket.socket) -> None:
    hm = HealthMonitor("UDP-CONNECT", delay=1, timeout=1, max_retries=1, max_retries_down=2)
    closed = _closed_port(socket.SOCK_DGRAM)
    live = Target("p1", "m1", "127.0.0.1", udp_member.getsockname()[1], hm)
    dead = Target("p1", "m2", "127.0.0.1", closed, hm)
    changes: list[set[str]] = []
    checker = HealthChecker(on_change=lambda: changes.append(checker.down()))
    try:
        checker.update([live, dead])
        assert checker.is_up("p1", "m2") is True  # a new member starts up
        assert checker.is_up("p1", "m9") is None
        assert _eventually(lambda: checker.down() == {"m2"}, 8)
        assert changes == [{"m2"}]
        assert checker.is_up("p1", "m1") is True
        # Updating keeps what is known of the members that stay.
        checker.update([live, dead])
        assert checker.down() == {"m2"}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as reopened:
            reopened.bind(("127.0.0.1", closed))
            assert _eventually(lambda: checker.down() == set(), 6)
        assert changes == [{"m2"}, set()]
        checker.update([live])
        assert checker.is_up("p1", "m2") is None
    finally:
        checker.close()
