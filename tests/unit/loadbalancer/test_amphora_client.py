"""AmphoraClient against the real amphora agent API and a real HAProxy on 127.0.0.1.

No root: the agent's HTTP server runs in a thread of the test, HAProxy binds
127.0.0.1 ports, and the members are small HTTP servers of the test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tricircle_lb.loadbalancer.amphora import Listener, LoadBalancerConfig, Member, Pool
from tricircle_lb.loadbalancer.amphora.agent import (
    AgentServer,
    AmphoraAgentConfig,
    AmphoraApi,
    HAProxy,
    auth,
    make_server,
)
from tricircle_lb.loadbalancer.drivers.amphora import (
    AmphoraAuthError,
    AmphoraClient,
    AmphoraRefused,
    AmphoraUnreachable,
)

HAPROXY = shutil.which("haproxy")
pytestmark = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
KEY = b"per-deployment-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Agent:
    port: int
    haproxy: HAProxy


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    assert HAPROXY is not None
    config = AmphoraAgentConfig(amphora_id="amp-1", heartbeat_key=KEY.decode(), agent_port=0,
                                bind_address="127.0.0.1", haproxy_binary=HAPROXY)
    haproxy = HAProxy(HAPROXY, tmp_path, config.open_files_limit)
    server = make_server(AmphoraApi(config, haproxy), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Agent(server.port, haproxy)
    finally:
        server.shutdown()
        server.server_close()
        haproxy.stop()


def _member(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def members() -> Iterator[list[ThreadingHTTPServer]]:
    servers = [_member("m1"), _member("m2")]
    try:
        yield servers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _config(port: int, members: list[ThreadingHTTPServer]) -> LoadBalancerConfig:
    return LoadBalancerConfig(
        id="lb-1", vip_address="127.0.0.1",
        listeners=(Listener(id="l-1", protocol="HTTP", protocol_port=port,
                            default_pool_id="p-1"),),
        pools=(Pool(id="p-1", protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                    members=tuple(Member(f"m{i + 1}", "127.0.0.1", s.server_port)
                                  for i, s in enumerate(members))),))


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return str(response.read().decode())


def test_info(agent: Agent) -> None:
    info = AmphoraClient("", KEY, port=agent.port).info("127.0.0.1")
    assert info["amphora_id"] == "amp-1"
    assert info["api_version"] == "1.0"
    assert info["haproxy_version"].startswith("2.")
    assert info["hostname"] == socket.gethostname()


def test_config_start_reload_refuse_and_delete(
        agent: Agent, members: list[ThreadingHTTPServer]) -> None:
    client = AmphoraClient("", KEY, port=agent.port)
    port = free_port()
    assert client.put_config("127.0.0.1", _config(port, members[:1])) == ["l-1"]
    master = agent.haproxy.master_pid()
    assert master is not None
    assert _get(port) == "m1"

    assert client.put_config("127.0.0.1", _config(port, members)) == ["l-1"]
    assert agent.haproxy.master_pid() == master  # reloaded, not restarted
    assert {_get(port) for _ in range(4)} == {"m1", "m2"}

    bad = dataclasses.replace(_config(port, members), id="lb\n    stats enable")
    with pytest.raises(AmphoraRefused) as refused:
        client.put_config("127.0.0.1", bad)
    assert refused.value.status == 400
    assert "loadbalancer.id" in refused.value.message
    assert agent.haproxy.master_pid() == master
    assert {_get(port) for _ in range(4)} == {"m1", "m2"}

    client.delete_config("127.0.0.1")
    assert agent.haproxy.master_pid() is None
    with pytest.raises(OSError):
        _get(port)
    client.delete_config("127.0.0.1")  # idempotent


def test_a_restarted_agent_adopts_the_running_haproxy(
        agent: Agent, members: list[ThreadingHTTPServer], tmp_path: Path) -> None:
    port = free_port()
    AmphoraClient("", KEY, port=agent.port).put_config("127.0.0.1", _config(port, members))
    master = agent.haproxy.master_pid()
    assert HAPROXY is not None
    again = HAProxy(HAPROXY, tmp_path, 4500)
    again.resume()
    assert again.master_pid() == master
    assert _masters(tmp_path) == [master]


def _masters(state_dir: Path) -> list[int]:
    """HAProxy processes on this state directory that are not a worker of another."""
    ours: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if str(state_dir / "haproxy.cfg").encode() in cmdline:
            ours[int(proc.name)] = ppid
    return [pid for pid, ppid in ours.items() if ppid not in ours]


def test_requests_that_the_agent_refuses(agent: Agent) -> None:
    client = AmphoraClient("", KEY, port=agent.port)
    with pytest.raises(AmphoraRefused, match="mac must look like"):
        client.plug_network("127.0.0.1", "not-a-mac")
    with pytest.raises(AmphoraRefused, match="IP address"):
        client.plug_vip("127.0.0.1", "10.0.0.300", 24, "fa:16:3e:00:00:01")


def test_wrong_key_is_refused(agent: Agent) -> None:
    with pytest.raises(AmphoraAuthError, match="bad signature"):
        AmphoraClient("", b"another key", port=agent.port).info("127.0.0.1")


def _raw(port: int, timestamp: str, signature: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/info", headers={auth.TIMESTAMP_HEADER: timestamp,
                                              auth.SIGNATURE_HEADER: signature})
        return conn.getresponse().status
    finally:
        conn.close()


def test_stale_and_replayed_requests_are_refused(agent: Agent) -> None:
    old = f"{time.time() - 61:.3f}"
    assert _raw(agent.port, old, auth.sign_request(KEY, "GET", "/info", old, b"")) == 401
    now = auth.now()
    signature = auth.sign_request(KEY, "GET", "/info", now, b"")
    assert _raw(agent.port, now, signature) == 200
    assert _raw(agent.port, now, signature) == 401
    assert _raw(agent.port, now, "") == 401


def test_a_response_not_signed_with_our_key_is_refused() -> None:
    class Impostor(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = b'{"amphora_id": "evil"}'
            self.send_response(200)
            self.send_header(auth.TIMESTAMP_HEADER, auth.now())
            self.send_header(auth.SIGNATURE_HEADER, "0" * 64)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Impostor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(AmphoraAuthError, match="bad signature"):
            AmphoraClient("", KEY, port=server.server_port).info("127.0.0.1")
    finally:
        server.shutdown()
        server.server_close()


def test_nobody_listening_is_unreachable() -> None:
    with pytest.raises(AmphoraUnreachable):
        AmphoraClient("", KEY, port=free_port(), timeout=2).info("127.0.0.1")


@contextlib.contextmanager
def _served(tmp_path: Path, address: str, *, amphora_id: str = "amp-1", key: bytes = KEY,
            **kw: Any) -> Iterator[int]:
    assert HAPROXY is not None
    config = AmphoraAgentConfig(amphora_id=amphora_id, heartbeat_key=key.decode(),
                                agent_port=0, bind_address=address, haproxy_binary=HAPROXY)
    server = AgentServer(AmphoraApi(config, HAProxy(HAPROXY, tmp_path, 4500)), address, 0,
                         **kw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()


def test_an_agent_refuses_another_amphoras_key(tmp_path: Path) -> None:
    """Issue 10 (decision 076): each amphora's agent holds a key of its own; a caller
    holding amphora B's key (B itself, compromised) cannot drive amphora A."""
    key_a, key_b = b"key-of-amphora-a", b"key-of-amphora-b"
    with _served(tmp_path / "a", "127.0.0.4", amphora_id="amp-a", key=key_a) as port_a, \
            _served(tmp_path / "b", "127.0.0.5", amphora_id="amp-b", key=key_b) as port_b:
        client = AmphoraClient("", KEY, port=port_a, timeout=5)
        assert client.with_key(key_a).info("127.0.0.4")["amphora_id"] == "amp-a"
        with pytest.raises(AmphoraAuthError, match="bad signature"):
            client.with_key(key_b).info("127.0.0.4")
        with pytest.raises(AmphoraAuthError, match="bad signature"):
            client.with_key(key_b).with_timeout(5).delete_config("127.0.0.4")
        assert AmphoraClient("", key_b, port=port_b).info("127.0.0.5")["amphora_id"] == "amp-b"


def test_the_agent_answers_on_its_management_address_only(tmp_path: Path) -> None:
    """Issue 10: the VIP and member addresses of an amphora carry tenants' traffic; the
    agent listens on the management address alone (bound before it exists)."""
    with _served(tmp_path, "127.0.0.3") as port:
        assert AmphoraClient("", KEY, port=port).info("127.0.0.3")["amphora_id"] == "amp-1"
        with pytest.raises(AmphoraUnreachable):
            AmphoraClient("", KEY, port=port, timeout=2).info("127.0.0.1")


def test_slow_and_surplus_clients_are_dropped(tmp_path: Path) -> None:
    with _served(tmp_path, "127.0.0.1", request_timeout=0.5, max_connections=2) as port:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        time.sleep(0.1)  # both are being served (sending nothing)
        surplus = socket.create_connection(("127.0.0.1", port))
        surplus.settimeout(2)
        assert surplus.recv(1) == b""  # closed at once: no slot left
        for sock in idle:
            sock.settimeout(3)
            assert sock.recv(1) in (b"", b"H")  # dropped (or told 400) after the timeout
        time.sleep(0.2)
        assert AmphoraClient("", KEY, port=port).info("127.0.0.1")["amphora_id"] == "amp-1"
        for sock in (*idle, surplus):
            sock.close()
