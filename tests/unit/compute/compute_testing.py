"""Test helpers: RegionOne's compute beside central and two regions' networking, in-process.

The networking apps come from the networking tests' helpers (real apps, real
SQLite, HTTP between them through one transport); RegionOne's compute joins
the same transport as ``c1.test`` and calls RegionOne's networking through
it. Identity is the fixed token table of those helpers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "networking"))

from networking_testing import HOSTS, Cloud

COMPUTE_HOST = "c1.test"
HOSTS_OF_REGION = ("RegionOne-host1", "RegionOne-host2")
NOT_LOCATED = "network not located in current region"


def write_compute_config(path: Path, hosts: tuple[str, ...] = HOSTS_OF_REGION,
                         build_timeout: float = 60) -> Path:
    path.write_text(f"""
[DEFAULT]
database_url = sqlite:///{path.with_suffix('.db')}
[keystone_authtoken]
auth_url = http://identity.test/v3
username = nova
password = x
[compute]
region_name = RegionOne
availability_zone = az1
hosts = {",".join(hosts)}
build_timeout = {build_timeout}
""")
    return path


@dataclass
class ComputeCloud:
    net: Cloud
    app: FastAPI

    def compute(self, token: str = "demo-token", version: str | None = "2.79") -> httpx.Client:
        headers = {"X-Auth-Token": token}
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return httpx.Client(transport=self.net.router, base_url=f"http://{COMPUTE_HOST}",
                            headers=headers)

    def network(self, region: str = "RegionOne", token: str = "admin-token") -> httpx.Client:
        return self.net.client(region, token)

    @property
    def service(self) -> Any:
        return self.app.state.compute

    def make_network(self, name: str = "net1", token: str = "demo-token",
                     cidr: str = "10.0.10.0/24", **extra: Any) -> dict[str, Any]:
        central = self.net.client("CentralRegion", token)
        net = ok(central.post("/v2.0/networks", json={"network": {"name": name, **extra}}),
                 201)["network"]
        ok(central.post("/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "cidr": cidr, "ip_version": 4}}), 201)
        return dict(net)

    def ports_of(self, server_id: str, region: str = "RegionOne") -> list[dict[str, Any]]:
        ports = ok(self.network(region).get("/v2.0/ports", params={"device_id": server_id}))
        return list(ports["ports"])

    def central_ports(self, network_id: str) -> list[dict[str, Any]]:
        ports = ok(self.network("CentralRegion").get("/v2.0/ports",
                                                     params={"network_id": network_id}))
        return list(ports["ports"])

    def report(self, server_id: str, **body: Any) -> dict[str, Any]:
        resp = self.compute("admin-token").put(f"/v2.1/os-host-agent/servers/{server_id}",
                                               json={"server": body})
        return dict(ok(resp)["server"])


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def fault(resp: httpx.Response, status: int) -> str:
    """The message of a Nova error, checking its format."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert len(body) == 1, body
    (_name, inner), = body.items()
    assert inner["code"] == status, body
    return str(inner["message"])


__all__ = ["HOSTS", "ComputeCloud", "fault", "ok"]
