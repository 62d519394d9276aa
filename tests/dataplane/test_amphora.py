"""The amphora agent in a real namespace, driven by AmphoraClient from a controller namespace.

Namespaces (all ``tcl-t<6 hex>-…``, removed with their processes even on failure)::

    ctl (mgmt0 10.231.0.1) ──veth── amp (eth0 10.231.0.2; eth1 10.0.1.5 + VIP 10.0.1.10)
                                         │ eth1
    cli (10.0.1.20) ──── sw (bridge) ────┴──── mem (10.0.1.30: HAProxy answering
                                                 m1 on 8001, m2 on 8002, m3 on 8003)
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from dataplane_testing import eventually, in_ns, sh

from tricircle_lb.agent.desired import build
from tricircle_lb.agent.instances import NamespaceRuntime
from tricircle_lb.compute.catalog import image_id_of
from tricircle_lb.dataplane import teardown_all
from tricircle_lb.dataplane.netns_socket import socket_in
from tricircle_lb.loadbalancer.amphora import (
    HealthMonitor,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
)
from tricircle_lb.loadbalancer.drivers.amphora import (
    AmphoraAuthError,
    AmphoraClient,
    AmphoraError,
    AmphoraRefused,
)
from tricircle_lb.loadbalancer.health import Heartbeat, InvalidHeartbeat, decode

pytestmark = pytest.mark.root

KEY = b"tcl-test-heartbeat-key"
AMP_IP, CTL_IP = "10.231.0.2", "10.231.0.1"
VIP, VRRP_MAC = "10.0.1.10", "fa:16:3e:00:01:05"
MEMBER_IP = "10.0.1.30"


@dataclass
class Lab:
    prefix: str
    amp: str
    ctl: str
    cli: str
    state: Path
    heartbeats: socket.socket


def _ns(*args: str) -> None:
    sh("ip", *args)


def _build(prefix: str, tmp: Path) -> Lab:
    amp, ctl, cli, mem, sw = (prefix + n for n in ("amp", "ctl", "cli", "mem", "sw"))
    for ns in (amp, ctl, cli, mem, sw):
        _ns("netns", "add", ns)
        _ns("-n", ns, "link", "set", "lo", "up")
    _ns("-n", ctl, "link", "add", "mgmt0", "type", "veth", "peer", "name", "eth0", "netns", amp)
    _ns("-n", ctl, "addr", "add", f"{CTL_IP}/24", "dev", "mgmt0")
    _ns("-n", amp, "addr", "add", f"{AMP_IP}/24", "dev", "eth0")
    _ns("-n", sw, "link", "add", "br0", "type", "bridge")
    _ns("-n", sw, "link", "set", "br0", "up")
    for n, (ns, ifname, cidr, mac) in enumerate([
            (amp, "eth1", "10.0.1.5/24", VRRP_MAC), (cli, "eth0", "10.0.1.20/24", None),
            (mem, "eth0", f"{MEMBER_IP}/24", None)]):
        _ns("-n", sw, "link", "add", f"p{n}", "type", "veth", "peer", "name", ifname,
            "netns", ns)
        _ns("-n", sw, "link", "set", f"p{n}", "master", "br0", "up")
        if mac:
            _ns("-n", ns, "link", "set", ifname, "address", mac)
        _ns("-n", ns, "addr", "add", cidr, "dev", ifname)
    for ns in (ctl, amp):
        _ns("-n", ns, "link", "set", "mgmt0" if ns == ctl else "eth0", "up")
    _ns("-n", cli, "link", "set", "eth0", "up")
    _ns("-n", mem, "link", "set", "eth0", "up")
    # eth1 of the amphora stays down: the "host agent" plugs it later.
    backends = tmp / "members.cfg"
    backends.write_text("defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n"
                        "    timeout connect 5s\n" + "".join(
                            f"frontend m{i}\n    bind {MEMBER_IP}:800{i}\n"
                            f"    http-request return status 200 content-type text/plain "
                            f"string m{i}\n" for i in (1, 2, 3)))
    sh("ip", "netns", "exec", mem, "haproxy", "-D", "-f", str(backends))
    heartbeats = socket_in(ctl, socket.AF_INET, socket.SOCK_DGRAM)
    heartbeats.bind((CTL_IP, 5555))
    heartbeats.settimeout(0.5)
    return Lab(prefix, amp, ctl, cli, tmp / "amphora", heartbeats)


def _agent_config(tmp: Path) -> Path:
    path = tmp / "amphora-agent.conf"
    path.write_text(f"[amphora_agent]\namphora_id = amp-1\nheartbeat_key = {KEY.decode()}\n"
                    f"controller_ip_port_list = {CTL_IP}:5555\nheartbeat_interval = 0.3\n"
                    "plug_timeout = 10\n")
    return path


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    prefix = f"tcl-t{secrets.token_hex(3)}-"
    agent: subprocess.Popen[bytes] | None = None
    heartbeats: socket.socket | None = None
    try:
        built = _build(prefix, tmp_path)
        heartbeats = built.heartbeats
        with (tmp_path / "agent.log").open("wb") as log:
            agent = subprocess.Popen(
                ["ip", "netns", "exec", built.amp, sys.executable, "-m",
                 "tricircle_lb.loadbalancer.amphora.agent", "--config",
                 str(_agent_config(tmp_path)), "--state-dir", str(built.state)],
                stdout=log, stderr=subprocess.STDOUT)
        yield built
    finally:
        if heartbeats is not None:
            heartbeats.close()
        if agent is not None:
            agent.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                agent.wait(5)
            agent.kill()
            agent.wait()
        teardown_all(prefix)


def _config(*members: int, **changes: object) -> LoadBalancerConfig:
    pool = Pool(id="p1", protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                health_monitor=HealthMonitor("TCP", delay=1, timeout=1, max_retries=1),
                members=tuple(Member(f"m{i}", MEMBER_IP, 8000 + i) for i in members))
    config = LoadBalancerConfig(
        id="lb1", vip_address=VIP, pools=(pool,),
        listeners=(Listener(id="l1", protocol="HTTP", protocol_port=80, default_pool_id="p1"),))
    return replace(config, **changes)


def _curl(lab: Lab) -> str:
    result = in_ns(lab.cli, "curl", "-s", "-m", "3", f"http://{VIP}/")
    return result.stdout if result.returncode == 0 else f"error {result.returncode}"


def _http_in(ns: str, ip: str, port: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(ip, port, timeout=5)
    conn.sock = socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
    conn.sock.settimeout(5)
    conn.sock.connect((ip, port))
    return conn


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


def test_amphora_agent_serves_reloads_and_reports(lab: Lab) -> None:
    client = AmphoraClient(lab.ctl, KEY, timeout=15)

    def info() -> bool:
        with contextlib.suppress(AmphoraError):
            return bool(client.info(AMP_IP)["amphora_id"] == "amp-1")
        return False

    assert eventually(info, timeout=20), (lab.state.parent / "agent.log").read_text()
    # Alive before HAProxy runs: heartbeats with no listeners.
    assert _next_heartbeat(lab, lambda hb: hb.amphora_id == "amp-1" and not hb.listeners)

    # The client has a stale ARP entry for the VIP (the previous amphora's MAC).
    sh("ip", "-n", lab.cli, "neigh", "replace", VIP, "lladdr", "02:00:00:00:00:99",
       "dev", "eth0", "nud", "stale")
    time.sleep(1.1)  # the kernel ignores ARP updates within locktime (1 s)
    threading.Timer(1.0, sh, ("ip", "-n", lab.amp, "link", "set", "eth1", "up")).start()
    assert client.plug_vip(AMP_IP, VIP, 24, VRRP_MAC.upper()) == "eth1"
    assert client.plug_vip(AMP_IP, VIP, 24, VRRP_MAC) == "eth1"  # idempotent
    assert VRRP_MAC in sh("ip", "-n", lab.cli, "neigh", "show", VIP)
    assert client.plug_network(AMP_IP, VRRP_MAC) == "eth1"

    assert client.put_config(AMP_IP, _config(1, 2)) == ["l1"]
    assert {_curl(lab) for _ in range(6)} == {"m1", "m2"}

    # Reload under load, with a keep-alive connection open.
    keep = _http_in(lab.cli, VIP, 80)
    keep.request("GET", "/")
    assert keep.getresponse().read() in (b"m1", b"m2")
    results: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                conn = _http_in(lab.cli, VIP, 80)
                conn.request("GET", "/")
                results.append(conn.getresponse().read().decode())
                conn.close()
            except OSError as exc:
                results.append(f"error {exc!r}")

    loader = threading.Thread(target=load)
    loader.start()
    try:
        time.sleep(0.3)
        assert client.put_config(AMP_IP, _config(1, 2, 3)) == ["l1"]
        assert client.put_config(AMP_IP, _config(1, 2, 3)) == ["l1"]
        time.sleep(0.3)
    finally:
        stop.set()
        loader.join()
    failed = [r for r in results if r.startswith("error")]
    assert not failed and len(results) > 20, failed[:3]
    keep.request("GET", "/")
    assert keep.getresponse().read() in (b"m1", b"m2", b"m3")  # survived both reloads
    keep.close()
    assert eventually(lambda: {_curl(lab) for _ in range(6)} == {"m1", "m2", "m3"})

    hb = _next_heartbeat(lab, lambda hb: "l1" in hb.listeners and hb.pools.get("p1") and all(
        hb.pools["p1"].members.get(m) == "UP" for m in ("m1", "m2", "m3")))
    assert hb is not None
    assert hb.listeners["l1"].status == "OPEN" and hb.listeners["l1"].pools == ("p1",)
    assert hb.listeners["l1"].stats.totconns > 0  # counted since the last reload

    with pytest.raises(AmphoraAuthError):
        AmphoraClient(lab.ctl, b"not the key").info(AMP_IP)

    bad_member = _config(1, 2, 3)
    bad_member = replace(bad_member, pools=(replace(bad_member.pools[0], members=(
        Member("m1\n    bind :22", MEMBER_IP, 8001),)),))
    for bad in (bad_member, _config(1, vip_address=f"{VIP} ssl crt /etc/shadow"),
                replace(_config(1), listeners=(replace(_config(1).listeners[0],
                                                       allowed_cidrs=("0.0.0.0/0 }",)),))):
        with pytest.raises(AmphoraRefused) as refused:
            client.put_config(AMP_IP, bad)
        assert refused.value.status == 400
    assert {_curl(lab) for _ in range(6)} == {"m1", "m2", "m3"}  # HAProxy untouched

    client.delete_config(AMP_IP)
    client.delete_config(AMP_IP)
    assert _curl(lab).startswith("error")


def test_an_amphora_instance_runs_the_agent_and_restarts_it(tmp_path: Path) -> None:
    prefix = f"tcl-t{secrets.token_hex(3)}-"
    runtime = NamespaceRuntime(tmp_path, "host1", prefix=prefix)
    instance_id = "0a0b0c0d-0000-4000-8000-000000000001"
    conf = (f"[amphora_agent]\namphora_id = {instance_id}\nheartbeat_key = k\n"
            "bind_address = 127.0.0.1\n").encode()
    server = {"id": instance_id, "name": "amphora-1", "status": "BUILD",
              "image": {"id": image_id_of("RegionOne", "amphora-x64-haproxy")},
              "OS-EXT-SRV-ATTR:host": "host1",
              "OS-EXT-SRV-ATTR:user_data": base64.b64encode(conf).decode()}
    desired = build(host="host1", tunnel_ip="192.0.2.1", local_ports=[], network_ports=[],
                    networks=[], subnets=[], servers=[server],
                    instance_namespace=runtime.namespace, region="RegionOne")
    instance = desired.instances[instance_id]
    assert instance.user_data is not None and instance.user_data.startswith(b"#!/bin/sh")
    plain = build(host="host1", tunnel_ip="192.0.2.1", local_ports=[], network_ports=[],
                  networks=[], subnets=[], servers=[server], instance_namespace=runtime.namespace,
                  region="RegionTwo")
    assert plain.instances[instance_id].user_data == conf  # not this region's amphora image
    ns = runtime.namespace(instance_id)
    client = AmphoraClient(ns, b"k", timeout=5)

    def answers() -> bool:
        with contextlib.suppress(AmphoraError):
            return bool(client.info("127.0.0.1")["amphora_id"] == instance_id)
        return False

    try:
        runtime.start(instance_id, "amphora-1", instance.user_data, instance.limits,
                      instance.service)
        assert instance.service
        assert eventually(answers, timeout=20), runtime.console(instance_id)
        agents = [p for p in sh("ip", "netns", "pids", ns).split()
                  if b"amphora.agent" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(agents) == 1
        sh("kill", "-9", agents[0])
        assert eventually(answers, timeout=20), runtime.console(instance_id)
        assert "restarting" in runtime.console(instance_id)
    finally:
        with contextlib.suppress(Exception):
            runtime.remove(instance_id)
        teardown_all(prefix)
