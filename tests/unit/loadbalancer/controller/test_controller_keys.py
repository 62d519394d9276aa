"""Issue 10 (decision 076): a key per amphora, a VRRP password per load balancer.

Each amphora's user-data carries its own key and the controller signs every call to
that amphora with it (the fake amphorae record the key of each call); a replacement
gets a new one. Both amphorae of a pair get their load balancer's own password.
"""

from __future__ import annotations

from controller_testing import LBS, Rig

from tricircle_lb.loadbalancer import keys
from tricircle_lb.loadbalancer.models import Amphora, LoadBalancer


def _live(rig: Rig, lb_id: str) -> list[Amphora]:
    return [a for a in rig.amphorae(lb_id) if a.status != "DELETED"]


def _assert_own_keys(rig: Rig, amps: list[Amphora]) -> None:
    for amp in amps:
        assert amp.agent_key and len(amp.agent_key) >= 40
        user_data = rig.compute.user_data[str(amp.compute_id)].decode()
        assert f"heartbeat_key = {amp.agent_key}\n" in user_data
        assert rig.state.hm_config.heartbeat_key not in user_data
        assert rig.agent.keys[str(amp.lb_network_ip)] == {amp.agent_key.encode()}


def test_each_amphora_has_its_own_key_and_is_called_with_it(rig: Rig) -> None:
    first, second = rig.active_lb(), rig.active_lb()
    amps = _live(rig, first["id"]) + _live(rig, second["id"])
    assert len({a.agent_key for a in amps}) == 2
    _assert_own_keys(rig, amps)


def test_a_replacement_amphora_gets_a_new_key(rig: Rig) -> None:
    lb = rig.active_lb()
    [old] = _live(rig, lb["id"])
    rig.api("PUT", f"/v2/octavia/amphorae/{old.id}/failover", 202, token="admin-token")
    assert rig.run() == 1
    [new] = _live(rig, lb["id"])
    assert new.id != old.id and new.agent_key != old.agent_key
    _assert_own_keys(rig, [new])


def test_an_amphora_booted_before_keys_per_amphora_keeps_the_deployment_key(rig: Rig) -> None:
    """Migration 0004 leaves NULL: such an amphora was booted with the deployment's key,
    which the controller keeps using for it; its replacement gets a key of its own."""
    lb = rig.active_lb()
    [old] = _live(rig, lb["id"])
    with rig.state.db.write() as session:
        row = session.get(Amphora, old.id)
        assert row is not None
        row.agent_key = None
    deployment_key = rig.state.hm_config.heartbeat_key.encode()
    rig.agent.keys.clear()
    rig.api("PUT", f"{LBS}/{lb['id']}", 200, {"loadbalancer": {"description": "x"}})
    assert rig.run() == 1
    assert rig.agent.keys[str(old.lb_network_ip)] == {deployment_key}
    rig.api("PUT", f"/v2/octavia/amphorae/{old.id}/failover", 202, token="admin-token")
    assert rig.run() == 1
    [new] = _live(rig, lb["id"])
    _assert_own_keys(rig, [new])


def _pair(rig: Rig) -> str:
    lb = rig.create_lb()
    with rig.state.db.write() as session:
        row = session.get(LoadBalancer, lb["id"])
        assert row is not None
        row.topology = "ACTIVE_STANDBY"
    assert rig.run() == 1
    return str(lb["id"])


def _passwords(rig: Rig, lb_id: str) -> set[object]:
    return {rig.agent.vrrp[str(a.lb_network_ip)]["auth_pass"] for a in _live(rig, lb_id)}


def test_a_pair_runs_its_load_balancers_own_vrrp_password(rig: Rig) -> None:
    first, second = _pair(rig), _pair(rig)
    with rig.state.db.read() as session:
        stored = {lb_id: session.get(LoadBalancer, lb_id).vrrp_auth_pass  # type: ignore[union-attr]
                  for lb_id in (first, second)}
    for lb_id, password in stored.items():
        assert password and len(password) == 8 and password.isalnum()
        assert _passwords(rig, lb_id) == {password}
    assert stored[first] != stored[second]
    _assert_own_keys(rig, _live(rig, first) + _live(rig, second))


def test_a_pair_made_before_stored_passwords_keeps_the_derived_one(rig: Rig) -> None:
    lb_id = _pair(rig)
    with rig.state.db.write() as session:
        row = session.get(LoadBalancer, lb_id)
        assert row is not None
        row.vrrp_auth_pass = None
    derived = keys.vrrp_password(None, lb_id, rig.state.hm_config.heartbeat_key)
    [survivor, doomed] = _live(rig, lb_id)
    rig.api("PUT", f"/v2/octavia/amphorae/{doomed.id}/failover", 202, token="admin-token")
    assert rig.run() == 1
    assert len(_live(rig, lb_id)) == 2 and survivor.id in {a.id for a in _live(rig, lb_id)}
    assert _passwords(rig, lb_id) == {derived}  # the survivor and its new peer agree
