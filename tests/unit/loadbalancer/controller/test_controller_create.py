"""Load balancer create: the controller converges to ports at central, an amphora
holding the VIP and ACTIVE objects; it resumes after a crash at any step without
making anything twice, retries what may pass, and reverts what will not."""

from __future__ import annotations

import pytest
from controller_testing import Crash, Rig

from tricircle_lb.loadbalancer.drivers.amphora import AmphoraRefused, AmphoraUnreachable
from tricircle_lb.loadbalancer.drivers.compute import ComputeUnavailable


def test_create_converges(rig: Rig) -> None:
    lb = rig.create_lb(name="lb1")
    assert rig.run() == 1
    shown = rig.show(lb["id"])
    assert (shown["provisioning_status"], shown["operating_status"]) == ("ACTIVE", "ONLINE")
    [amp] = rig.amphorae(lb["id"])
    assert amp.status == "ALLOCATED" and amp.role == "STANDALONE"
    names = rig.port_names()
    assert names[f"octavia-lb-{lb['id']}"] == 1
    [mgmt] = rig.central_ports(name=f"octavia-lb-mgmt-{amp.id}")
    assert mgmt["id"] == amp.mgmt_port_id
    assert mgmt["fixed_ips"][0]["ip_address"] == amp.lb_network_ip
    [vrrp] = rig.central_ports(name=f"octavia-lb-vrrp-{amp.id}")
    assert vrrp["id"] == amp.vrrp_port_id
    assert vrrp["network_id"] == rig.subnet1["network_id"]
    assert [p["ip_address"] for p in vrrp["allowed_address_pairs"]] == [lb["vip_address"]]
    assert list(rig.compute.servers) == [amp.compute_id]
    assert rig.compute.ports[str(amp.compute_id)] == [amp.mgmt_port_id, amp.vrrp_port_id]
    assert b"amphora_id = " + amp.id.encode() in rig.compute.user_data[str(amp.compute_id)]
    assert rig.agent.vips == {amp.lb_network_ip: f"{lb['vip_address']}/24"}
    assert rig.agent.configs[str(amp.lb_network_ip)].vip_address == lb["vip_address"]
    assert [j.status for j in rig.jobs()] == ["SUCCESS"]


CREATE_STEPS = [("network", "create_port", 1), ("network", "create_port", 2),
                ("compute", "boot", 1), ("compute", "get", 1), ("agent", "plug_vip", 1),
                ("agent", "put_config", 1)]


@pytest.mark.parametrize(("system", "method", "nth"), CREATE_STEPS)
def test_create_resumes_after_a_crash(rig: Rig, system: str, method: str, nth: int) -> None:
    lb = rig.create_lb()
    with pytest.raises(Crash):
        rig.run(rig.crashing(system, method, nth))
    assert rig.show(lb["id"])["provisioning_status"] == "PENDING_CREATE"
    assert rig.run() == 0  # the dead worker's lease still holds the job
    rig.restart()
    assert rig.run() == 1
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"
    [amp] = rig.amphorae(lb["id"])
    assert amp.status == "ALLOCATED"
    assert len(rig.compute.servers) == 1
    assert set(rig.port_names().values()) == {1}
    assert {f"octavia-lb-mgmt-{amp.id}", f"octavia-lb-vrrp-{amp.id}"} <= set(rig.port_names())
    [job] = rig.jobs()
    assert (job.status, job.attempts) == ("SUCCESS", 2)


def test_transient_failure_is_retried(rig: Rig) -> None:
    lb = rig.create_lb()
    rig.compute.fail_on("boot", ComputeUnavailable("compute of RegionOne unreachable"))
    rig.agent.fail_on("put_config", AmphoraUnreachable("10.0.0.9 port 9443: timed out"))
    assert rig.run() == 1
    [job] = rig.jobs()
    assert (job.status, job.attempts) == ("NEW", 1)
    assert "unreachable" in str(job.last_error)
    assert rig.show(lb["id"])["provisioning_status"] == "PENDING_CREATE"
    rig.later()
    assert rig.run() == 1
    [job] = rig.jobs()
    assert (job.status, job.attempts) == ("NEW", 2)
    rig.later()
    assert rig.run() == 1
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"
    assert len(rig.compute.servers) == 1 and set(rig.port_names().values()) == {1}
    assert [j.status for j in rig.jobs()] == ["SUCCESS"]


def assert_reverted(rig: Rig, lb_id: str) -> None:
    """ERROR everywhere, nothing pending, the half-built amphora gone; the VIP stays
    (the load balancer in ERROR still owns it until deleted)."""
    assert set(rig.statuses(lb_id)) == {"ERROR"}
    assert rig.amphorae(lb_id) == []
    [amp] = rig.amphorae()
    assert (amp.status, amp.loadbalancer_id) == ("DELETED", None)
    assert rig.compute.servers == {}
    assert sorted(rig.port_names()) == sorted(
        ["octavia-health-manager-RegionOne-listen-port", f"octavia-lb-{lb_id}"])
    [job] = rig.jobs()
    assert job.status == "FAIL"


def test_refused_configuration_ends_in_error(rig: Rig) -> None:
    lb = rig.create_lb()
    rig.agent.fail_on("put_config", AmphoraRefused(400, "haproxy -c: invalid configuration"))
    assert rig.run() == 1
    assert_reverted(rig, lb["id"])
    assert "invalid configuration" in str(rig.jobs()[0].last_error)


def test_server_in_error_ends_in_error(rig: Rig) -> None:
    lb = rig.create_lb()
    rig.compute.boot_status, rig.compute.boot_fault = "ERROR", "No valid host was found."
    assert rig.run() == 1
    assert_reverted(rig, lb["id"])
    assert "No valid host" in str(rig.jobs()[0].last_error)


def test_last_attempt_of_a_transient_failure_ends_in_error(rig: Rig) -> None:
    lb = rig.create_lb()
    attempts = rig.queue.config.max_attempts
    rig.agent.fail_on("put_config", AmphoraUnreachable("timed out"), times=attempts)
    for _ in range(attempts):
        assert rig.run() == 1
        rig.later()
    assert_reverted(rig, lb["id"])


def test_error_load_balancer_can_be_deleted(rig: Rig) -> None:
    lb = rig.create_lb()
    rig.compute.boot_status = "ERROR"
    rig.run()
    rig.api("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}", 204)
    assert rig.run() == 1
    rig.api("GET", f"/v2/lbaas/loadbalancers/{lb['id']}", 404)
    assert list(rig.port_names()) == ["octavia-health-manager-RegionOne-listen-port"]
