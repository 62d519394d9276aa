"""The OpenStack APIs the benchmarks drive, over plain REST (httpx).

REST rather than the ``openstack`` CLI: a CLI call costs seconds of Python
start-up on a busy 2-core machine, which would swamp the times measured.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
from _deploy import REGIONS, Deployment

Body = dict[str, Any]
AZ = {name: f"az{i + 1}" for i, name in enumerate(REGIONS)}
POLL = 0.1


class Api:
    """An admin session: token, catalog, and the calls the benchmarks need."""

    def __init__(self, dep: Deployment) -> None:
        self.client = httpx.Client(timeout=60)
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"},
                "password": dep.admin_password()}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        resp = self.client.post(f"{dep.identity_url()}/auth/tokens", json=body)
        resp.raise_for_status()
        self.client.headers["X-Auth-Token"] = resp.headers["X-Subject-Token"]
        self.urls = {(svc["type"], ep["region"]): ep["url"]
                     for svc in resp.json()["token"]["catalog"]
                     for ep in svc["endpoints"] if ep["interface"] == "public"}

    def call(self, method: str, kind: str, region: str, path: str,
             body: Body | None = None) -> Any:
        resp = self.client.request(method, f"{self.urls[(kind, region)]}{path}", json=body)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {kind} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    # -- networking ----------------------------------------------------------------

    def network(self, region: str, name: str, cidr: str) -> tuple[str, str]:
        """A network and its subnet created through ``region``'s API; (network, subnet) ids."""
        net = self.call("POST", "network", region, "/v2.0/networks",
                        {"network": {"name": name}})["network"]
        subnet = self.call("POST", "network", region, "/v2.0/subnets", {"subnet": {
            "name": f"{name}-subnet", "network_id": net["id"], "cidr": cidr,
            "ip_version": 4}})["subnet"]
        return net["id"], subnet["id"]

    # -- compute -------------------------------------------------------------------

    def boot(self, region: str, name: str, networks: list[str], host: str,
             user_data: str) -> str:
        """Boot ``name`` on ``host`` (not waiting); the server id."""
        server = self.call("POST", "compute", region, "/servers", {"server": {
            "name": name, "imageRef": self._image(region), "flavorRef": self._flavor(region),
            "networks": [{"uuid": n} for n in networks],
            "availability_zone": f"{AZ[region]}:{host}",
            "user_data": base64.b64encode(user_data.encode()).decode()}})["server"]
        return str(server["id"])

    def _image(self, region: str) -> str:
        images = self.call("GET", "image", region, "/v2/images?name=cirros")["images"]
        return str(images[0]["id"])

    def _flavor(self, region: str) -> str:
        flavors = self.call("GET", "compute", region, "/flavors")["flavors"]
        return str(next(f["id"] for f in flavors if f["name"] == "m1.tiny"))

    def server(self, region: str, server_id: str, timeout: float = 180) -> Body:
        """The server once ACTIVE."""
        deadline = time.monotonic() + timeout
        while True:
            server: Body = self.call("GET", "compute", region, f"/servers/{server_id}")["server"]
            if server["status"] == "ACTIVE":
                return server
            if server["status"] == "ERROR" or time.monotonic() > deadline:
                raise RuntimeError(f"server {server['name']} is {server['status']}")
            time.sleep(0.5)

    @staticmethod
    def addresses(server: Body) -> list[str]:
        return [a["addr"] for addrs in server["addresses"].values() for a in addrs]

    # -- load balancing (RegionOne's Octavia v2 API) -----------------------------------

    def lb(self, method: str, path: str, body: Body | None = None) -> Any:
        return self.call(method, "load-balancer", "RegionOne", f"/v2{path}", body)

    def lb_active(self, lb_id: str, timeout: float = 300) -> float:
        """Wait until the load balancer is ACTIVE; ``time.monotonic()`` when it was seen."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.lb("GET", f"/lbaas/loadbalancers/{lb_id}")["loadbalancer"][
                "provisioning_status"]
            now = time.monotonic()
            if status == "ACTIVE":
                return now
            if status == "ERROR" or now > deadline:
                raise RuntimeError(f"load balancer {lb_id} is {status}")
            time.sleep(POLL)

    def create_lb(self, name: str, subnet_id: str) -> Body:
        lb: Body = self.lb("POST", "/lbaas/loadbalancers", {"loadbalancer": {
            "name": name, "vip_subnet_id": subnet_id}})["loadbalancer"]
        return lb

    def delete_lb(self, lb_id: str, timeout: float = 300) -> None:
        self.lb("DELETE", f"/lbaas/loadbalancers/{lb_id}?cascade=true")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.lb("GET", "/lbaas/loadbalancers")["loadbalancers"]
            if all(lb["id"] != lb_id for lb in found):
                return
            time.sleep(0.5)
        raise RuntimeError(f"load balancer {lb_id} not deleted within {timeout}s")

    def listener_pool(self, lb_id: str, port: int) -> str:
        """An HTTP listener on ``port`` with a ROUND_ROBIN pool; the pool id."""
        listener = self.lb("POST", "/lbaas/listeners", {"listener": {
            "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": port}})["listener"]
        self.lb_active(lb_id)
        pool = self.lb("POST", "/lbaas/pools", {"pool": {
            "listener_id": listener["id"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}})["pool"]
        self.lb_active(lb_id)
        return str(pool["id"])

    def add_member(self, lb_id: str, pool_id: str, subnet_id: str, address: str,
                   wait: bool = True) -> str:
        member = self.lb("POST", f"/lbaas/pools/{pool_id}/members", {"member": {
            "subnet_id": subnet_id, "address": address, "protocol_port": 80}})["member"]
        if wait:
            self.lb_active(lb_id)
        return str(member["id"])

    def remove_member(self, lb_id: str, pool_id: str, member_id: str) -> None:
        self.lb("DELETE", f"/lbaas/pools/{pool_id}/members/{member_id}")
        self.lb_active(lb_id)

    def amphora_host(self, lb_id: str) -> str:
        """The region host the load balancer's amphora runs on."""
        amps = [a for a in self.lb("GET", "/octavia/amphorae")["amphorae"]
                if a["loadbalancer_id"] == lb_id]
        server = self.call("GET", "compute", "RegionOne", f"/servers/{amps[0]['compute_id']}")
        return str(server["server"]["OS-EXT-SRV-ATTR:host"])
