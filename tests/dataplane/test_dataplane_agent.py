"""The real agent loop on real namespaces: restart converges, stopped agent keeps traffic."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from dataplane_testing import Lab, eventually, pings, sh

from tricircle_lb.agent.service import Agent

pytestmark = pytest.mark.root

H1, H3 = "RegionOne-host1", "RegionTwo-host1"


def snapshot(lab: Lab, host: str) -> tuple[list[str], list[str], list[str]]:
    ns = lab.ns(host)
    fdb = sh("ip", "netns", "exec", ns, "bridge", "fdb", "show", "dev", "vxlan-1001")
    neigh = sh("ip", "-n", ns, "neigh", "show", "dev", "vxlan-1001")
    links = sh("ip", "-n", ns, "-br", "link")
    return (sorted(line for line in fdb.splitlines() if " dst " in line),
            sorted(neigh.splitlines()),
            sorted(line.split()[0] for line in links.splitlines()))


class Running:
    """An agent's loop in a thread, as the process runs it."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.stop = threading.Event()
        self.thread = threading.Thread(target=agent.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def test_agent_loop_restart_and_stop(lab: Lab, tmp_path: Path) -> None:
    net, sub = lab.network("vxlan", 1001)
    vm1, p1 = lab.instance(H1, net, sub, "10.0.10.11")
    vm3, _ = lab.instance(H3, net, sub, "10.0.10.13")
    ns1, ns3 = lab.instance_ns(H1, vm1), lab.instance_ns(H3, vm3)
    agents = [Running(lab.agent(h, tmp_path)) for h in (H1, H3)]
    try:
        region_one = lab.regions["RegionOne"]
        assert eventually(lambda: any(w[:2] == ("port", p1["id"]) for w in region_one.writes))
        assert pings(ns1, "10.0.10.13")
        assert any(w[0] == "agent" for w in region_one.writes)
        before = snapshot(lab, H1)
        assert len(before[0]) == 2 and len(before[1]) == 1  # peer MAC + flood; one neighbour

        for a in agents:
            a.halt()
        # Agents down: the kernel keeps forwarding.
        assert pings(ns1, "10.0.10.13", timeout=3) and pings(ns3, "10.0.10.11", timeout=3)

        agents = [Running(lab.agent(h, tmp_path)) for h in (H1, H3)]  # "restart"
        assert eventually(lambda: (agents[0].agent.metrics.registry.get_sample_value(
            "tricircle_agent_reconcile_seconds_count") or 0) >= 3)
        assert snapshot(lab, H1) == before  # no duplicates, nothing replaced

        # A third instance appears in RegionTwo: RegionOne's host learns it live.
        vm4, p4 = lab.instance(H3, net, sub, "10.0.10.14")
        assert pings(ns1, "10.0.10.14")
        # It goes away: its entries go with it.
        for region in lab.regions.values():
            region.ports[:] = [p for p in region.ports if p["id"] != p4["id"]]
        lab.regions["RegionTwo"].remove(vm4)
        assert eventually(lambda: snapshot(lab, H1) == before)
    finally:
        for a in agents:
            a.halt()
