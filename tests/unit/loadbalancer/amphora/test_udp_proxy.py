"""The agent's nginx for UDP listeners: real nginx, real datagrams on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tricircle_lb.loadbalancer.amphora import (
    HealthMonitor,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
    SessionPersistence,
    codec,
)
from tricircle_lb.loadbalancer.amphora.agent.config import AmphoraAgentConfig
from tricircle_lb.loadbalancer.amphora.agent.haproxy import HAProxy
from tricircle_lb.loadbalancer.amphora.agent.heartbeats import HeartbeatLoop
from tricircle_lb.loadbalancer.amphora.agent.keepalived import Keepalived
from tricircle_lb.loadbalancer.amphora.agent.server import AmphoraApi, Refused
from tricircle_lb.loadbalancer.amphora.agent.udp import InvalidUdpConfig, UdpProxy, udp_bound

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Echo:
    """A UDP member answering every datagram with its name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(2048)
                if data:
                    self.sock.sendto(self.name.encode(), peer)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ask(port: int, source: str = "127.0.0.1") -> str:
    """One datagram from a new source port; the member's answer or ``timeout``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        sock.bind((source, 0))
        sock.sendto(b"hello", ("127.0.0.1", port))
        try:
            return sock.recv(100).decode()
        except TimeoutError:
            return "timeout"


def _eventually(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[UdpProxy]:
    udp = UdpProxy(NGINX, tmp_path)
    try:
        yield udp
    finally:
        udp.stop()
        udp.health.close()


def test_balances_skips_a_stopped_member_and_reports_it(proxy: UdpProxy) -> None:
    members = [Echo("m1"), Echo("m2")]
    port = _free_udp_port()
    hm = HealthMonitor("UDP-CONNECT", delay=1, timeout=1, max_retries=1, max_retries_down=1)
    pool = Pool("p1", "UDP", "ROUND_ROBIN", health_monitor=hm,
                members=tuple(Member(m.name, "127.0.0.1", m.port) for m in members))
    config = LoadBalancerConfig("lb1", "127.0.0.1", pools=(pool,), listeners=(
        Listener("l1", "UDP", port, default_pool_id="p1"),))
    try:
        proxy.apply(config)
        assert udp_bound("127.0.0.1", port)
        assert {_ask(port) for _ in range(8)} == {"m1", "m2"}
        hb = HeartbeatLoop("amp", b"k", (), "/nonexistent", 1.0, proxy.report).message()
        assert hb.listeners["l1"].status == "OPEN" and hb.listeners["l1"].pools == ("p1",)
        assert hb.pools["p1"].status == "UP"
        assert dict(hb.pools["p1"].members) == {"m1": "UP", "m2": "UP"}

        members[1].close()
        assert _eventually(lambda: proxy.health.down() == {"m2"}, 8)
        assert _eventually(lambda: {_ask(port) for _ in range(8)} == {"m1"}, 5)
        assert "down;  # member m2" in proxy.config_file.read_text()
        _, pools = proxy.report()
        assert dict(pools["p1"].members) == {"m1": "UP", "m2": "DOWN"}

        # Same configuration again: nothing changes, the verdict stays.
        master = proxy.master_pid()
        proxy.apply(config)
        assert proxy.master_pid() == master and proxy.health.down() == {"m2"}

        # An agent restart adopts nginx and the saved configuration.
        again = UdpProxy(NGINX, proxy.config_file.parent)
        try:
            again.resume()
            assert again.master_pid() == master
            assert set(again.report()[0]) == {"l1"}
        finally:
            again.health.close()
    finally:
        for m in members:
            m.close()


def test_source_ip_persistence_keeps_a_client_on_its_member(proxy: UdpProxy) -> None:
    members = [Echo("m1"), Echo("m2"), Echo("m3")]
    port = _free_udp_port()
    pool = Pool("p1", "UDP", "ROUND_ROBIN",
                session_persistence=SessionPersistence("SOURCE_IP", persistence_timeout=30),
                members=tuple(Member(m.name, "127.0.0.1", m.port) for m in members))
    config = LoadBalancerConfig("lb1", "127.0.0.1", pools=(pool,), listeners=(
        Listener("l1", "UDP", port, default_pool_id="p1"),))
    try:
        proxy.apply(config)
        sources = [f"127.0.0.{i}" for i in range(1, 13)]
        first = {s: _ask(port, s) for s in sources}
        assert all(_ask(port, s) == first[s] for s in sources)  # new source ports, same member
        assert len(set(first.values())) > 1  # different clients spread
        report = proxy.report()[1]["p1"].members
        assert dict(report) == {"m1": "no check", "m2": "no check", "m3": "no check"}
    finally:
        for m in members:
            m.close()


def test_refused_config_leaves_nginx_alone_and_no_listener_stops_it(proxy: UdpProxy) -> None:
    port = _free_udp_port()
    config = LoadBalancerConfig("lb1", "127.0.0.1", listeners=(Listener("l1", "UDP", port),))
    proxy.apply(config)
    master = proxy.master_pid()
    assert master is not None
    with pytest.raises(InvalidUdpConfig):
        proxy.apply(replace(config, vip_address="192.0.2.1"))  # not ours: nginx -t fails
    assert proxy.master_pid() == master and udp_bound("127.0.0.1", port)
    assert _ask(port) == "timeout"  # no pool: dropped
    proxy.apply(replace(config, listeners=()))
    assert proxy.master_pid() is None and not udp_bound("127.0.0.1", port)
    assert not proxy.saved.exists()


def test_vrrp_check_passes_with_udp_listeners_only_while_nginx_runs(
        proxy: UdpProxy, tmp_path: Path) -> None:
    haproxy = HAProxy("/usr/sbin/haproxy", tmp_path, 4500)
    keepalived = Keepalived("/usr/sbin/keepalived", tmp_path, haproxy)
    keepalived._write_scripts()

    def check() -> int:
        return subprocess.run([str(keepalived.check_script)], check=False).returncode

    assert check() == 1  # nothing serves
    port = _free_udp_port()
    proxy.apply(LoadBalancerConfig("lb1", "127.0.0.1", listeners=(
        Listener("l1", "UDP", port),)))
    assert check() == 0  # UDP only: no HAProxy needed
    haproxy.config_file.write_text("")  # TCP listeners too, but HAProxy is not running
    assert check() == 1
    haproxy.config_file.unlink()
    proxy.stop()
    assert check() == 1


def test_put_config_refuses_a_bad_udp_part_before_haproxy_changes(
        proxy: UdpProxy, tmp_path: Path) -> None:
    haproxy = HAProxy(shutil.which("haproxy") or "/usr/sbin/haproxy", tmp_path, 4500)
    api = AmphoraApi(AmphoraAgentConfig(amphora_id="amp-1", heartbeat_key="k"), haproxy,
                     udp=proxy)
    tcp, udp = _free_udp_port(), _free_udp_port()
    bad = Pool("p2", "UDP", "ROUND_ROBIN", session_persistence=SessionPersistence(
        "HTTP_COOKIE"))  # the API refuses this for UDP pools; the agent does too
    config = LoadBalancerConfig("lb1", "127.0.0.1", pools=(bad,), listeners=(
        Listener("l1", "TCP", tcp), Listener("l2", "UDP", udp, default_pool_id="p2")))
    with pytest.raises(Refused, match="HTTP_COOKIE is not supported"):
        api.put_config(codec.to_dict(config))
    assert haproxy.master_pid() is None and proxy.master_pid() is None
    try:
        assert api.put_config(codec.to_dict(replace(config, pools=()))) == {
            "listeners": ["l1", "l2"]}
        assert haproxy.master_pid() is not None and udp_bound("127.0.0.1", udp)
    finally:
        api.delete_config({})
    assert haproxy.master_pid() is None and proxy.master_pid() is None
