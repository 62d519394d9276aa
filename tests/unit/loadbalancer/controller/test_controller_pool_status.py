"""Octavia's operating status of a pool no listener uses: OFFLINE once ACTIVE
(no HAProxy backend reports it), ONLINE for a listener's pool."""

from __future__ import annotations

from controller_testing import Rig


def test_a_pool_on_no_listener_stays_offline(rig: Rig) -> None:
    lb = rig.active_lb()
    served = rig.pool(lb["id"])  # an HTTP listener's default pool
    alone = rig.api("POST", "/v2/lbaas/pools", 201, {"pool": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN"}})["pool"]
    rig.run()
    shown = rig.api("GET", f"/v2/lbaas/pools/{alone['id']}", 200)["pool"]
    assert (shown["provisioning_status"], shown["operating_status"]) == ("ACTIVE", "OFFLINE")
    shown = rig.api("GET", f"/v2/lbaas/pools/{served['id']}", 200)["pool"]
    assert (shown["provisioning_status"], shown["operating_status"]) == ("ACTIVE", "ONLINE")
