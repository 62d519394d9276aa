"""An ACTIVE_STANDBY pair of amphora agents in real namespaces: keepalived, VRRP, failover.

Namespaces (all ``tcl-t<6 hex>-…``, removed with their processes even on failure)::

    ctl (bridge mgmt, 10.231.0.1) ──┬── amp1 eth0 10.231.0.2
                                    └── amp2 eth0 10.231.0.3
    sw (bridge br0, the VIP network 10.0.1.0/24):
        amp1 eth1 10.0.1.5, amp2 eth1 10.0.1.6 (VRRP ports; VIP 10.0.1.10 moves)
        cli 10.0.1.20 (the client loop), mem 10.0.1.30 (HAProxy answering m1, m2)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dataplane_testing import eventually, sh

from tricircle_lb.agent.instances import AMPHORA_CAPABILITIES
from tricircle_lb.dataplane import NetlinkDataplane, teardown_all
from tricircle_lb.dataplane.netns_socket import socket_in
from tricircle_lb.loadbalancer.amphora import Listener, LoadBalancerConfig, Member, Pool
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraClient, AmphoraError, AmphoraRefused

pytestmark = pytest.mark.root

KEY = b"tcl-test-heartbeat-key"
CTL_IP, VIP, MEMBER_IP = "10.231.0.1", "10.0.1.10", "10.0.1.30"
AMPS = {"amp1": ("10.231.0.2", "10.0.1.5", "fa:16:3e:00:01:05"),
        "amp2": ("10.231.0.3", "10.0.1.6", "fa:16:3e:00:01:06")}
PRIORITY = {"amp1": 100, "amp2": 90}
CONFIG = LoadBalancerConfig(
    id="lb1", vip_address=VIP,
    pools=(Pool(id="p1", protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                members=(Member("m1", MEMBER_IP, 8001), Member("m2", MEMBER_IP, 8002))),),
    listeners=(Listener(id="l1", protocol="HTTP", protocol_port=80, default_pool_id="p1"),))


@dataclass
class Pair:
    prefix: str
    tmp: Path
    client: AmphoraClient
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def ns(self, amp: str) -> str:
        return self.prefix + amp

    def start_agent(self, amp: str) -> None:
        conf = self.tmp / f"{amp}.conf"
        conf.write_text(f"[amphora_agent]\namphora_id = {amp}\n"
                        f"heartbeat_key = {KEY.decode()}\nplug_timeout = 10\n")
        with (self.tmp / f"{amp}-agent.log").open("ab") as log:
            # With the bounding set the runtime gives an amphora (decision 063).
            self.agents[amp] = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(amp), "setpriv", "--inh-caps=-all",
                 "--bounding-set=-all," + ",".join(
                     f"+{c.lower()}" for c in AMPHORA_CAPABILITIES), sys.executable, "-m",
                 "tricircle_lb.loadbalancer.amphora.agent", "--config", str(conf),
                 "--state-dir", str(self.tmp / amp)], stdout=log, stderr=subprocess.STDOUT)

    def wait_agent(self, amp: str) -> None:
        def answers() -> bool:
            with contextlib.suppress(AmphoraError):
                return bool(self.client.info(AMPS[amp][0])["amphora_id"] == amp)
            return False

        assert eventually(answers, timeout=20), self.log(amp)

    def log(self, amp: str) -> str:
        return (self.tmp / f"{amp}-agent.log").read_text(errors="replace")

    def state(self, amp: str) -> str | None:
        value = self.client.info(AMPS[amp][0])["vrrp_state"]
        return None if value is None else str(value)

    def holds_vip(self, amp: str) -> bool:
        return f"inet {VIP}/24" in sh("ip", "-n", self.ns(amp), "addr", "show", "eth1")

    def configure(self, amp: str, peers: list[str], auth_pass: str = "tcltest1",
                  priority: int | None = None) -> str:
        mgmt, vrrp_ip, mac = AMPS[amp]
        return self.client.configure_vrrp(
            mgmt, vip=VIP, prefixlen=24, mac=mac, vrrp_ip=vrrp_ip, peers=peers,
            priority=priority or PRIORITY[amp], vrid=51, advert_int=1, auth_pass=auth_pass)


def _ip(*args: str) -> None:
    sh("ip", *args)


def _build(prefix: str) -> None:
    ctl, cli, mem, sw = (prefix + n for n in ("ctl", "cli", "mem", "sw"))
    for ns in (ctl, cli, mem, sw, *(prefix + a for a in AMPS)):
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
    # The host agent's bridges (NetlinkDataplane), whose MAC stays put when the dead
    # amphora's port leaves: the controller's address is on mgmt (decision 090).
    dp = NetlinkDataplane()
    try:
        for ns, name in ((ctl, "mgmt"), (sw, "br0")):
            dp.ensure_bridge(ns, name)
            _ip("-n", ns, "link", "set", name, "up")
    finally:
        dp.close()
    _ip("-n", ctl, "addr", "add", f"{CTL_IP}/24", "dev", "mgmt")
    for n, (amp, (mgmt, _, _)) in enumerate(AMPS.items()):
        ns = prefix + amp
        _ip("-n", ctl, "link", "add", f"m{n}", "type", "veth", "peer", "name", "eth0",
            "netns", ns)
        _ip("-n", ctl, "link", "set", f"m{n}", "master", "mgmt", "up")
        _ip("-n", ns, "addr", "add", f"{mgmt}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
    ports = [(prefix + a, "eth1", f"{ip}/24", mac) for a, (_, ip, mac) in AMPS.items()]
    ports += [(cli, "eth0", "10.0.1.20/24", None), (mem, "eth0", f"{MEMBER_IP}/24", None)]
    for n, (ns, ifname, cidr, mac) in enumerate(ports):
        _ip("-n", sw, "link", "add", f"p{n}", "type", "veth", "peer", "name", ifname,
            "netns", ns)
        _ip("-n", sw, "link", "set", f"p{n}", "master", "br0", "up")
        if mac:
            _ip("-n", ns, "link", "set", ifname, "address", mac)
        _ip("-n", ns, "addr", "add", cidr, "dev", ifname)
        _ip("-n", ns, "link", "set", ifname, "up")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    prefix = f"tcl-t{secrets.token_hex(3)}-"
    lab = Pair(prefix, tmp_path, AmphoraClient(prefix + "ctl", KEY, timeout=20))
    try:
        _build(prefix)
        members = tmp_path / "members.cfg"
        members.write_text(
            "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n"
            "    timeout connect 5s\n" + "".join(
                f"frontend m{i}\n    bind {MEMBER_IP}:800{i}\n    http-request return "
                f"status 200 content-type text/plain string m{i}\n" for i in (1, 2)))
        sh("ip", "netns", "exec", prefix + "mem", "haproxy", "-D", "-f", str(members))
        for amp in AMPS:
            lab.start_agent(amp)
        yield lab
    finally:
        for agent in lab.agents.values():
            agent.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                agent.wait(5)
            agent.kill()
            agent.wait()
        teardown_all(prefix)  # keepalived and HAProxy run inside the namespaces


class Traffic:
    """A client loop on the VIP: one new connection per request, short timeouts."""

    def __init__(self, ns: str, pause: float = 0.0) -> None:
        self.ns = ns
        self.pause = pause  # between requests (a client that is not always connected)
        self.results: list[tuple[float, float, bool]] = []  # start, end, ok
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self) -> bool:
        try:
            with socket_in(self.ns, socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect((VIP, 80))
                sock.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
            status = answer.split(b"\r\n", 1)[0]
            return status.startswith(b"HTTP/1.") and b" 200 " in status \
                and answer.endswith((b"m1", b"m2"))
        except OSError:
            return False

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            ok = self._one()
            self.results.append((start, time.monotonic(), ok))
            if not ok:
                time.sleep(0.05)  # a refused connection fails at once: do not spin
            elif self.pause:
                time.sleep(self.pause)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def succeeded_since(self, since: float) -> int:
        return sum(1 for start, _, ok in self.results if ok and start > since)

    def report(self, what: str) -> float:
        """Print the failed requests and the outage (the longest time without a success)."""
        failed = sum(1 for *_, ok in self.results if not ok)
        outage, last_ok = 0.0, self.results[0][0]
        for start, end, ok in self.results:
            if ok:
                outage = max(outage, start - last_ok)
                last_ok = end
        print(f"\n{what}: {len(self.results)} requests, {failed} failed, "
              f"outage {outage:.2f} s")
        return outage


def _kill(ns: str, only: bytes | None = None) -> list[int]:
    """kill -9 the processes of ``ns`` (whose command line names ``only``, if given)."""
    killed = []
    for pid in map(int, sh("ip", "netns", "pids", ns).split()):
        with contextlib.suppress(OSError):
            if only is None or only in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed


def _roles(pair: Pair, amps: list[str]) -> dict[str, str | None]:
    return {amp: pair.state(amp) for amp in amps}


def _master(pair: Pair, amps: list[str]) -> str | None:
    """The one amphora that says MASTER and holds the VIP, the others BACKUP and not."""
    roles = _roles(pair, amps)
    masters = [a for a, r in roles.items() if r == "MASTER"]
    if len(masters) != 1 or any(r != "BACKUP" for a, r in roles.items() if a != masters[0]):
        return None
    holders = [a for a in amps if pair.holds_vip(a)]
    return masters[0] if holders == masters else None


def test_active_standby_pair_fails_over(pair: Pair) -> None:
    client = pair.client
    for amp in AMPS:
        pair.wait_agent(amp)
        assert pair.state(amp) is None  # no keepalived yet
        mgmt, _, mac = AMPS[amp]
        assert client.plug_vip(mgmt, VIP, 24, mac, address=False) == "eth1"
        assert not pair.holds_vip(amp)
        # Neither holds the VIP: HAProxy binds it anyway (ip_nonlocal_bind).
        assert client.put_config(mgmt, CONFIG) == ["l1"]

    for amp in AMPS:
        mgmt = AMPS[amp][0]
        with pytest.raises(AmphoraRefused) as refused:  # keepalived would truncate it
            pair.configure(amp, [AMPS["amp2"][1]], auth_pass="toolongpass")
        assert refused.value.status == 400
        with pytest.raises(AmphoraRefused):
            pair.configure(amp, [AMPS[amp][1]])  # itself as its peer
        peers = [ip for a, (_, ip, _) in AMPS.items() if a != amp]
        assert pair.configure(amp, peers) == "eth1"
        assert pair.configure(amp, peers) == "eth1"  # idempotent
    amps = list(AMPS)
    assert eventually(lambda: _master(pair, amps) is not None, timeout=15), \
        (_roles(pair, amps), pair.log("amp1"))

    # An agent restart adopts keepalived: same process, same role, VIP untouched.
    pid_file = pair.tmp / "amp2" / "keepalived.pid"
    keepalived_pid = pid_file.read_text()
    before = pair.state("amp2")
    pair.agents["amp2"].terminate()
    pair.agents["amp2"].wait(10)
    pair.start_agent("amp2")
    pair.wait_agent("amp2")
    assert pid_file.read_text() == keepalived_pid and pair.state("amp2") == before
    # A changed configuration is a reload (SIGHUP) of the same keepalived.
    assert pair.configure("amp2", [AMPS["amp1"][1]], priority=95) == "eth1"
    assert "priority 95" in (pair.tmp / "amp2" / "keepalived.conf").read_text()
    assert eventually(lambda: "Reload complete" in (
        pair.tmp / "amp2" / "keepalived.log").read_text(errors="replace"), timeout=10)
    assert pid_file.read_text() == keepalived_pid
    assert eventually(lambda: _master(pair, amps) is not None, timeout=10)

    # (a) kill -9 the MASTER's HAProxy: its check fails, the BACKUP takes the VIP.
    master = _master(pair, amps)
    assert master is not None
    backup = next(a for a in amps if a != master)
    with Traffic(pair.ns("cli")) as traffic:
        time.sleep(1)
        assert traffic.succeeded_since(0) > 0
        assert _kill(pair.ns(master), only=b"haproxy")
        assert eventually(lambda: pair.state(backup) == "MASTER"
                          and pair.state(master) == "FAULT", timeout=15)
        moved = time.monotonic()
        assert eventually(lambda: traffic.succeeded_since(moved + 1) > 20, timeout=15)
    # Detection: two failed checks 1 s apart; then priority 0 makes the BACKUP take over.
    assert traffic.report("MASTER's HAProxy killed") < 6
    assert all(ok for start, _, ok in traffic.results if start > moved + 1)
    assert pair.holds_vip(backup) and not pair.holds_vip(master)

    # HAProxy back: the old MASTER rejoins as BACKUP and does not take the VIP back.
    assert client.put_config(AMPS[master][0], CONFIG) == ["l1"]
    assert eventually(lambda: pair.state(master) == "BACKUP", timeout=10)
    time.sleep(2)
    assert _master(pair, amps) == backup
    master, backup = backup, master

    # A controlled hand-over (the controller's, before it replaces the VIP holder):
    # the holder drops to the BACKUP priority, the other preempts at the MASTER one.
    # The new holder adds the VIP before the old lets it go: no request fails.
    with Traffic(pair.ns("cli"), pause=0.05) as traffic:
        time.sleep(1)
        pair.configure(master, [AMPS[backup][1]], priority=90)
        mgmt, vrrp_ip, mac = AMPS[backup]
        client.configure_vrrp(mgmt, vip=VIP, prefixlen=24, mac=mac, vrrp_ip=vrrp_ip,
                              peers=[AMPS[master][1]], priority=100, vrid=51, advert_int=1,
                              auth_pass="tcltest1", preempt=True)
        assert "nopreempt" not in (pair.tmp / backup / "keepalived.conf").read_text()
        assert eventually(lambda: _master(pair, amps) == backup, timeout=10)
        moved = time.monotonic()
        assert eventually(lambda: traffic.succeeded_since(moved + 1) > 5, timeout=15)
    traffic.report("controlled hand-over")
    assert all(ok for *_, ok in traffic.results), "a request failed during the hand-over"
    master, backup = backup, master

    # (b) the MASTER amphora dies: every process killed, its namespace gone.
    with Traffic(pair.ns("cli")) as traffic:
        time.sleep(1)
        assert _kill(pair.ns(master))
        pair.agents.pop(master).wait(10)
        sh("ip", "netns", "del", pair.ns(master))
        assert eventually(lambda: pair.state(backup) == "MASTER", timeout=15)
        moved = time.monotonic()
        assert eventually(lambda: traffic.succeeded_since(moved + 1) > 20, timeout=15)
    # Detection: no advertisement for 3 x advert_int + skew (3.6 s).
    assert traffic.report("MASTER amphora killed") < 7
    assert all(ok for start, _, ok in traffic.results if start > moved + 1)
    assert pair.holds_vip(backup)

    # DELETE /vrrp: keepalived stops and takes the VIP with it (idempotent).
    client.stop_vrrp(AMPS[backup][0])
    client.stop_vrrp(AMPS[backup][0])
    assert pair.state(backup) is None and not pair.holds_vip(backup)
