"""UDP load balancing in a real amphora namespace: the agent's nginx and health monitor.

Namespaces (all ``tcl-t<6 hex>-…``, removed with their processes even on failure)::

    ctl (mgmt0 10.231.0.1) ──veth── amp (eth0 10.231.0.2; eth1 10.0.1.5 + VIP 10.0.1.10)
                                         │ eth1
    cli (10.0.1.20) ──── sw (bridge) ────┼──── mem1 (10.0.1.31: UDP echo "mem1" on 5353)
                                         └──── mem2 (10.0.1.32: UDP echo "mem2" on 5353)
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dataplane_testing import eventually, sh

from tricircle_lb.dataplane import teardown_all
from tricircle_lb.dataplane.netns_socket import socket_in
from tricircle_lb.loadbalancer.amphora import (
    HealthMonitor,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
    SessionPersistence,
)
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraClient, AmphoraError
from tricircle_lb.loadbalancer.health import Heartbeat, InvalidHeartbeat, ListenerStats, decode

pytestmark = pytest.mark.root

KEY = b"tcl-test-heartbeat-key"
AMP_IP, CTL_IP = "10.231.0.2", "10.231.0.1"
VIP, VRRP_MAC = "10.0.1.10", "fa:16:3e:00:01:05"
MEMBERS = {"mem1": "10.0.1.31", "mem2": "10.0.1.32"}
MEMBER_PORT, VIP_PORT = 5353, 53
# IP packet lengths, as the statistics count them (IPv4 20 + UDP 8 + payload).
ASKED, ANSWERED = 20 + 8 + len(b"hello"), 20 + 8 + len(b"mem1")

ECHO = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = sock.recvfrom(2048)
    if data:
        sock.sendto(sys.argv[3].encode(), peer)
"""


@dataclass
class Lab:
    prefix: str
    amp: str
    ctl: str
    cli: str
    tmp: Path
    heartbeats: socket.socket
    echoes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_echo(self, name: str) -> None:
        self.echoes[name] = subprocess.Popen(
            ["ip", "netns", "exec", self.prefix + name, sys.executable, "-c", ECHO,
             MEMBERS[name], str(MEMBER_PORT), name])

    def stop_echo(self, name: str) -> None:
        echo = self.echoes.pop(name)
        echo.kill()
        echo.wait()


def _build(prefix: str, tmp: Path) -> Lab:
    amp, ctl, cli, sw = (prefix + n for n in ("amp", "ctl", "cli", "sw"))
    for ns in (amp, ctl, cli, sw, *(prefix + m for m in MEMBERS)):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", ctl, "link", "add", "mgmt0", "type", "veth", "peer", "name", "eth0",
       "netns", amp)
    sh("ip", "-n", ctl, "addr", "add", f"{CTL_IP}/24", "dev", "mgmt0")
    sh("ip", "-n", amp, "addr", "add", f"{AMP_IP}/24", "dev", "eth0")
    sh("ip", "-n", ctl, "link", "set", "mgmt0", "up")
    sh("ip", "-n", amp, "link", "set", "eth0", "up")
    sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", sw, "link", "set", "br0", "up")
    ends = [(amp, "10.0.1.5/24"), (cli, "10.0.1.20/24"),
            *((prefix + m, f"{ip}/24") for m, ip in MEMBERS.items())]
    for n, (ns, cidr) in enumerate(ends):
        sh("ip", "-n", sw, "link", "add", f"p{n}", "type", "veth", "peer", "name", "eth1",
           "netns", ns)
        sh("ip", "-n", sw, "link", "set", f"p{n}", "master", "br0", "up")
        if ns == amp:
            sh("ip", "-n", ns, "link", "set", "eth1", "address", VRRP_MAC)
        sh("ip", "-n", ns, "addr", "add", cidr, "dev", "eth1")
        sh("ip", "-n", ns, "link", "set", "eth1", "up")
    heartbeats = socket_in(ctl, socket.AF_INET, socket.SOCK_DGRAM)
    heartbeats.bind((CTL_IP, 5555))
    heartbeats.settimeout(0.5)
    lab = Lab(prefix, amp, ctl, cli, tmp, heartbeats)
    for name in MEMBERS:
        lab.start_echo(name)
    return lab


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    prefix = f"tcl-t{secrets.token_hex(3)}-"
    agent: subprocess.Popen[bytes] | None = None
    built: Lab | None = None
    try:
        built = _build(prefix, tmp_path)
        conf = tmp_path / "amphora-agent.conf"
        conf.write_text(f"[amphora_agent]\namphora_id = amp-1\nheartbeat_key = {KEY.decode()}\n"
                        f"controller_ip_port_list = {CTL_IP}:5555\nheartbeat_interval = 0.3\n"
                        "plug_timeout = 10\n")
        with (tmp_path / "agent.log").open("wb") as log:
            agent = subprocess.Popen(
                ["ip", "netns", "exec", built.amp, sys.executable, "-m",
                 "tricircle_lb.loadbalancer.amphora.agent", "--config", str(conf),
                 "--state-dir", str(tmp_path / "amphora")],
                stdout=log, stderr=subprocess.STDOUT)
        yield built
    finally:
        if built is not None:
            built.heartbeats.close()
            for name in list(built.echoes):
                built.stop_echo(name)
        if agent is not None:
            agent.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                agent.wait(5)
            agent.kill()
            agent.wait()
        teardown_all(prefix)  # nginx too: it runs in the amphora's namespace


def _ask(lab: Lab, source_port: int = 0) -> str:
    """One datagram to the VIP from the client (a new source port unless given)."""
    with socket_in(lab.cli, socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(1)
        sock.bind(("10.0.1.20", source_port))
        sock.sendto(b"hello", (VIP, VIP_PORT))
        try:
            return sock.recv(100).decode()
        except (TimeoutError, ConnectionRefusedError):
            return "no answer"


def _answers(lab: Lab, n: int = 8) -> set[str]:
    return {_ask(lab) for _ in range(n)}


def _next_heartbeat(lab: Lab, accept: Callable[[Heartbeat], object],
                    timeout: float = 10.0) -> Heartbeat | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            hb = decode(lab.heartbeats.recv(65536), KEY)
        except (TimeoutError, InvalidHeartbeat):
            continue
        if accept(hb):
            return hb
    return None


def _fresh_heartbeat(lab: Lab) -> Heartbeat | None:
    """A heartbeat built after everything sent so far was counted (none queued from before)."""
    time.sleep(0.5)  # longer than heartbeat_interval
    lab.heartbeats.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            lab.heartbeats.recv(65536)
    lab.heartbeats.settimeout(0.5)
    return _next_heartbeat(lab, lambda hb: "l1" in hb.listeners)


def _stats_table(ns: str) -> bool:
    return "tcl_udp_stats" in sh("ip", "netns", "exec", ns, "nft", "list", "tables")


def _config(**pool_changes: object) -> LoadBalancerConfig:
    pool = Pool(id="p1", protocol="UDP", lb_algorithm="ROUND_ROBIN",
                health_monitor=HealthMonitor("UDP-CONNECT", delay=1, timeout=1,
                                             max_retries=1, max_retries_down=2),
                members=tuple(Member(f"m-{name}", ip, MEMBER_PORT)
                              for name, ip in MEMBERS.items()),
                **pool_changes)  # type: ignore[arg-type]
    return LoadBalancerConfig(id="lb1", vip_address=VIP, pools=(pool,), listeners=(
        Listener(id="l1", protocol="UDP", protocol_port=VIP_PORT, default_pool_id="p1"),))


def _members(hb: Heartbeat) -> dict[str, str]:
    return dict(hb.pools["p1"].members) if "p1" in hb.pools else {}


def test_udp_listener_balances_and_skips_a_stopped_member(lab: Lab) -> None:
    client = AmphoraClient(lab.ctl, KEY, timeout=15)

    def info() -> bool:
        with contextlib.suppress(AmphoraError):
            return bool(client.info(AMP_IP)["amphora_id"] == "amp-1")
        return False

    assert eventually(info, timeout=20), (lab.tmp / "agent.log").read_text()
    assert client.plug_vip(AMP_IP, VIP, 24, VRRP_MAC) == "eth1"
    assert client.put_config(AMP_IP, _config()) == ["l1"]
    replies = [_ask(lab) for _ in range(8)]
    assert set(replies) == {"mem1", "mem2"}
    hb = _next_heartbeat(lab, lambda hb: "l1" in hb.listeners and _members(hb) == {
        "m-mem1": "UP", "m-mem2": "UP"})
    assert hb is not None and hb.listeners["l1"].status == "OPEN"
    assert hb.listeners["l1"].pools == ("p1",)

    # The kernel's counts: eight clients (source ports), each a live session for
    # timeout_client_data; the bytes of the datagrams in and of the answers out.
    answered = sum(r != "no answer" for r in replies)
    counted = ListenerStats(conns=8, totconns=8, rx=8 * ASKED, tx=answered * ANSWERED)
    assert _next_heartbeat(lab, lambda hb: hb.listeners["l1"].stats == counted), counted

    # A stopped member answers the monitor's datagram with ICMP port unreachable.
    lab.stop_echo("mem2")
    assert _next_heartbeat(lab, lambda hb: _members(hb).get("m-mem2") == "DOWN")
    assert eventually(lambda: _answers(lab) == {"mem1"}, timeout=5)
    lab.start_echo("mem2")
    assert _next_heartbeat(lab, lambda hb: _members(hb).get("m-mem2") == "UP")
    assert eventually(lambda: _answers(lab) == {"mem1", "mem2"}, timeout=5)

    # SOURCE_IP persistence: every source port of the client lands on one member.
    client.put_config(AMP_IP, _config(session_persistence=SessionPersistence(
        "SOURCE_IP", persistence_timeout=30, persistence_granularity="255.255.255.0")))
    # put_config returns once the old worker has let go of the VIP's socket.
    assert len(_answers(lab, 10)) == 1

    # nginx reloaded and the session timeout changed: the counts went on from
    # where they were; the live sessions are the ten of the new timeout's set.
    before = _fresh_heartbeat(lab)
    assert before is not None
    was = before.listeners["l1"].stats
    assert was.rx > 8 * ASKED and was.totconns > 8
    replies = [_ask(lab) for _ in range(10)]
    answered = sum(r != "no answer" for r in replies)
    counted = ListenerStats(conns=was.conns + 10, totconns=was.totconns + 10,
                            rx=was.rx + 10 * ASKED, tx=was.tx + answered * ANSWERED)
    assert _next_heartbeat(lab, lambda hb: hb.listeners["l1"].stats == counted), (
        counted, _fresh_heartbeat(lab))

    client.delete_config(AMP_IP)
    assert _ask(lab) == "no answer"
    assert _next_heartbeat(lab, lambda hb: not hb.listeners)
    assert "nginx" not in _commands(lab.amp)
    assert not _stats_table(lab.amp)


def _commands(ns: str) -> list[str]:
    names = []
    for pid in sh("ip", "netns", "pids", ns).split():
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return names
