"""A host that loses its data plane gets it back (issue 9): the agent rebuilds an
embedded host's namespace and cables, re-plugs its ports and restarts the instances
lost with their namespaces, and says what it found in its report."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_testing import HOST, HOST_NS, VTEP, FakeRuntime, Region, agent_config

from tricircle_lb.agent.service import SHUTOFF_AFTER, Agent
from tricircle_lb.dataplane.fake import FakeDataplane
from tricircle_lb.dataplane.underlay import Underlay, UnderlayHost, UnderlaySpec

SWITCH = "tcl-underlay"
CIDR = "198.18.0.0/15"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Host:
    """One embedded host on a fake kernel, wired as `up` wires it, with two guests."""

    def __init__(self, tmp: Path) -> None:
        self.dp = FakeDataplane()
        spec = UnderlaySpec((UnderlayHost(HOST, VTEP, HOST_NS, 1),),
                            ("physnet1", "physnet2"), CIDR, SWITCH)
        Underlay(spec, self.dp).ensure()
        self.region = Region()
        self.runtime = FakeRuntime(self.dp)
        self.clock = Clock()
        config = agent_config(tmp, underlay_namespace=SWITCH, underlay_cidr=CIDR,
                              host_number=1)
        self.agent = Agent(config, self.region, self.dp, runtime=self.runtime,
                           clock=self.clock)
        net = self.region.network("vxlan", 1001)
        sub = self.region.subnet(net, "10.0.10.0/24")
        self.vms = [self.region.server(f"backend{n}") for n in (1, 2)]
        for n, vm in enumerate(self.vms):
            self.region.port(net, sub, f"10.0.10.{11 + n}", device_id=vm["id"])

    def converge(self) -> None:
        for _ in range(2):  # ports plugged, then the instances started
            self.agent.reconcile_once()

    def lose_every_namespace(self) -> None:
        for name in self.dp.namespaces():
            if name:
                self.dp.delete_namespace(name)
        self.runtime.running.clear()  # their processes went with them


def test_a_converged_host_reports_a_healthy_data_plane(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.converge()
    result = host.agent.reconcile_once()
    assert result.repaired == [] and result.underlay_reachable is True
    health = host.agent.agent_body()["configurations"]["data_plane"]
    assert health["host_namespace"] is True and health["underlay_reachable"] is True
    assert health["last_error"] == "" and health["last_repair"] == ""


def test_every_namespace_deleted_comes_back_with_its_instances(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.converge()
    assert sorted(host.runtime.started) == sorted(vm["id"] for vm in host.vms)
    host.lose_every_namespace()

    result = host.agent.reconcile_once()
    assert result.repaired == ["host namespace"]
    assert {SWITCH, HOST_NS} <= set(host.dp.namespaces())
    links = {lk.name: lk for lk in host.dp.links(HOST_NS)}
    assert all(links[d].up for d in ("ul0", "pn0", "pn1"))
    assert host.dp.addresses(HOST_NS, "ul0") == [f"{VTEP}/15"]
    assert len(result.plugged) == 2  # both guests' ports are back in new namespaces

    host.agent.reconcile_once()
    # Each guest was started again (Nova's resume_guests_state_on_host_boot), once.
    assert sorted(host.runtime.started) == sorted(2 * [vm["id"] for vm in host.vms])
    assert all(vm["status"] == "ACTIVE" for vm in host.vms)
    health = host.agent.agent_body()["configurations"]["data_plane"]
    assert "rebuilt host namespace" in str(health["last_repair"])
    assert "restarted backend1" in str(health["last_repair"])


def test_a_cut_underlay_cable_is_replaced(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.converge()
    host.dp.delete_link(HOST_NS, "ul0")
    result = host.agent.reconcile_once()
    assert result.repaired == ["underlay link ul0"]
    assert host.dp.addresses(HOST_NS, "ul0") == [f"{VTEP}/15"]
    assert host.runtime.started.count(host.vms[0]["id"]) == 1  # guests untouched


def test_a_real_host_without_its_namespace_is_an_error_not_a_rebuild(
        tmp_path: Path) -> None:
    dp = FakeDataplane()
    agent = Agent(agent_config(tmp_path), Region(), dp, runtime=FakeRuntime(dp))
    assert agent.wiring is None
    with pytest.raises(Exception, match="does not exist"):
        agent.reconcile_once()
    assert dp.namespaces() == []


def test_a_guest_that_crashed_in_place_is_shutoff_after_a_grace(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.converge()
    vm = host.vms[0]
    host.runtime.running.discard(vm["id"])  # its process died; its namespace stays
    host.agent.reconcile_once()
    assert vm["status"] == "ACTIVE"  # not yet: a host losing its namespaces looks alike
    host.clock.now += SHUTOFF_AFTER
    host.agent.reconcile_once()
    assert vm["status"] == "SHUTOFF"
    assert host.runtime.started.count(vm["id"]) == 1  # a crash is not restarted
