"""Issue 10 against the real deployment: projects are strangers, through the real
``openstack`` CLI (and, where the CLI's own look-up would hide the answer, the
REST APIs with the same user's token).

Project A is ``demo``; project B (``xp-b``) and a reader of ``demo`` are made
by the admin through the CLI. The CLI resolves names and ids with the
caller's token before it calls an API, so for B every one of A's objects is
"not found" by the client; the REST calls below show what the APIs themselves
answer (Neutron and Nova: 404, Octavia: 403, Keystone: 403). The unit suites
(``tests/unit/*/*cross_project.py``) cover every resource and field; this
one covers each family once against real processes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest
from lb_support import lbs_active, lbs_gone, servers_active, servers_gone

from tests_support import OPENSTACK, Cloud

pytestmark = [pytest.mark.cloud, pytest.mark.slow]

CENTRAL = "CentralRegion"
B_PROJECT, B_USER, B_PASSWORD = "xp-b", "xp-b-user", "xp-b-Secret-1"
READER, READER_PASSWORD = "xp-reader", "xp-reader-Secret-1"


class User:
    """A user of the deployment other than admin and demo, running the real CLI."""

    def __init__(self, cloud: Cloud, user: str, password: str, project: str) -> None:
        self.cloud, self.user, self.password, self.project = cloud, user, password, project

    def env(self, region: str) -> dict[str, str]:
        env = dict(self.cloud.env("admin", region))
        for key in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE"):
            env.pop(key, None)
        env.update(OS_USERNAME=self.user, OS_PASSWORD=self.password,
                   OS_PROJECT_NAME=self.project)
        return env

    def raw(self, *args: str, region: str = "RegionOne") -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPENSTACK, *args], capture_output=True, text=True,
                              env=self.env(region), timeout=120, stdin=subprocess.DEVNULL,
                              check=False)

    def ok(self, *args: str, region: str = "RegionOne") -> Any:
        result = self.raw(*args, "-f", "json", region=region)
        assert result.returncode == 0, f"openstack {' '.join(args)}:\n{result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else None

    def fails(self, *args: str, region: str = "RegionOne") -> str:
        result = self.raw(*args, region=region)
        assert result.returncode != 0, f"openstack {' '.join(args)} succeeded:\n" \
            f"{result.stdout}"
        return result.stderr

    def sdk(self, region: str = "RegionOne") -> openstack.connection.Connection:
        env = self.env(region)
        return openstack.connect(
            auth_url=env["OS_AUTH_URL"], username=self.user, password=self.password,
            project_name=self.project, user_domain_name="Default",
            project_domain_name="Default", region_name=region)


def rest(conn: openstack.connection.Connection, method: str, service: str,
         path: str, **kw: Any) -> httpx.Response:
    """``method`` on ``service``'s catalog endpoint + ``path``, with the user's token."""
    base = str(conn.endpoint_for(service)).rstrip("/")
    return httpx.request(method, base + path, headers={"X-Auth-Token": conn.auth_token},
                         timeout=30, **kw)


@pytest.fixture(scope="module")
def xp(cloud: Cloud) -> Iterator[dict[str, Any]]:
    """A's (demo's) network, subnet, spare port and load balancer with a listener and a
    pool; B's network, subnet, server and load balancer with a listener and a pool."""
    admin = User(cloud, "admin", cloud.admin_password, "admin")
    made: dict[str, Any] = {}
    try:
        cloud.openstack("project", "create", "--domain", "default", B_PROJECT)
        cloud.openstack("user", "create", "--domain", "default", "--project", B_PROJECT,
                        "--password", B_PASSWORD, B_USER)
        cloud.openstack_raw("role", "add", "--project", B_PROJECT, "--user", B_USER, "member")
        cloud.openstack("user", "create", "--domain", "default", "--project", "demo",
                        "--password", READER_PASSWORD, READER)
        cloud.openstack_raw("role", "add", "--project", "demo", "--user", READER, "reader")
        a = User(cloud, "demo", cloud.demo_password, "demo")
        b = User(cloud, B_USER, B_PASSWORD, B_PROJECT)
        made["users"] = {"admin": admin, "a": a, "b": b,
                         "reader": User(cloud, READER, READER_PASSWORD, "demo")}
        # Both load balancers and B's server are requested before any is waited for
        # (what `--wait` would do one after the other), so their boots overlap.
        users = {"a": a, "b": b}
        for who, user, cidr in (("a", a, "10.77.1.0/24"), ("b", b, "10.77.2.0/24")):
            net = user.ok("network", "create", f"xp-{who}-net", region=CENTRAL)
            sub = user.ok("subnet", "create", "--network", net["id"], "--subnet-range", cidr,
                          f"xp-{who}-sub", region=CENTRAL)
            made[who] = {"net": net, "sub": sub}
            made[who]["lb"] = user.ok("loadbalancer", "create", "--name", f"xp-{who}-lb",
                                      "--vip-subnet-id", sub["id"])
        made["b"]["server"] = b.ok("server", "create", "--image", "cirros", "--flavor",
                                   "m1.tiny", "--network", made["b"]["net"]["id"], "xp-b-vm")
        lb_ids = [str(made[who]["lb"]["id"]) for who in users]
        active = lbs_active(cloud, lb_ids)
        for who in users:
            made[who]["lb"] = active[str(made[who]["lb"]["id"])]
        for who, user in users.items():
            made[who]["listener"] = user.ok(
                "loadbalancer", "listener", "create", "--name", f"xp-{who}-listener",
                "--protocol", "HTTP", "--protocol-port", "80", made[who]["lb"]["id"])
        lbs_active(cloud, lb_ids)
        for who, user in users.items():
            made[who]["pool"] = user.ok(
                "loadbalancer", "pool", "create", "--name", f"xp-{who}-pool",
                "--loadbalancer", made[who]["lb"]["id"], "--protocol", "HTTP",
                "--lb-algorithm", "ROUND_ROBIN")
        lbs_active(cloud, lb_ids)
        made["a"]["port"] = a.ok("port", "create", "--network", made["a"]["net"]["id"],
                                 "xp-a-port", region=CENTRAL)
        servers_active(cloud, {str(made["b"]["server"]["id"]): "RegionOne"})
        yield made
    finally:
        # The deletes are requested together, then waited for together.
        servers: dict[str, str] = {}
        lbs: list[str] = []
        for who in ("b", "a"):
            objs = made.get(who, {})
            user = made.get("users", {}).get(who, admin)
            if "server" in objs:
                user.raw("server", "delete", objs["server"]["id"])
                servers[str(objs["server"]["id"])] = "RegionOne"
            if "lb" in objs:
                user.raw("loadbalancer", "delete", "--cascade", objs["lb"]["id"])
                lbs.append(str(objs["lb"]["id"]))
        # As before, a cleanup that does not finish never fails the test.
        with contextlib.suppress(AssertionError):
            servers_gone(cloud, servers, timeout=120)
        with contextlib.suppress(AssertionError):
            lbs_gone(cloud, lbs, timeout=120)
        for who in ("b", "a"):
            objs = made.get(who, {})
            user = made.get("users", {}).get(who, admin)
            if "port" in objs:
                user.raw("port", "delete", objs["port"]["id"], region=CENTRAL)
            for kind in ("sub", "net"):
                if kind in objs:
                    user.raw("subnet" if kind == "sub" else "network", "delete",
                             objs[kind]["id"], region=CENTRAL)
        cloud.openstack_raw("user", "delete", B_USER)
        cloud.openstack_raw("user", "delete", READER)
        cloud.openstack_raw("project", "delete", B_PROJECT)


def test_b_cannot_reach_a_through_the_cli(xp: dict[str, Any]) -> None:
    users, a, b_objs = xp["users"], xp["a"], xp["b"]
    b = users["b"]
    lb, listener, pool = a["lb"]["id"], a["listener"]["id"], a["pool"]["id"]
    demo = a["lb"]["project_id"]
    # Identity: the CLI falls back to B's own projects when /v3/projects is refused.
    assert [p["Name"] for p in b.ok("project", "list")] == [B_PROJECT]
    b.fails("project", "show", demo)
    # Networking, at central and in a region.
    for region in (CENTRAL, "RegionOne"):
        b.fails("network", "show", a["net"]["id"], region=region)
        b.fails("port", "delete", a["port"]["id"], region=region)
        assert a["net"]["id"] not in {n["ID"] for n in b.ok("network", "list",
                                                            region=region)}
    b.fails("port", "create", "--network", a["net"]["id"], "xp-b-steal", region=CENTRAL)
    b.fails("quota", "show", "--compute", demo)
    # Compute: A's port on B's server.
    b.fails("server", "add", "port", b_objs["server"]["id"], a["port"]["id"])
    xp["users"]["a"].fails("server", "show", b_objs["server"]["id"])
    assert b.ok("image", "list")  # the image catalog is everyone's
    # Load balancing.
    for args in (("loadbalancer", "show", lb), ("loadbalancer", "set", "--name", "x", lb),
                 ("loadbalancer", "delete", lb), ("loadbalancer", "status", "show", lb),
                 ("loadbalancer", "stats", "show", lb),
                 ("loadbalancer", "listener", "show", listener),
                 ("loadbalancer", "pool", "delete", pool),
                 ("loadbalancer", "member", "list", pool),
                 ("loadbalancer", "quota", "show", demo),
                 ("loadbalancer", "amphora", "list"),
                 ("loadbalancer", "flavorprofile", "list")):
        b.fails(*args)
    assert lb not in {x["id"] for x in b.ok("loadbalancer", "list")}
    b.fails("loadbalancer", "create", "--vip-port-id", a["port"]["id"])
    b.fails("loadbalancer", "create", "--vip-subnet-id", a["sub"]["id"])
    b.fails("loadbalancer", "member", "create", "--subnet-id", a["sub"]["id"], "--address",
            "10.77.1.50", "--protocol-port", "80", b_objs["pool"]["id"])
    b.fails("loadbalancer", "l7policy", "create", "--action", "REDIRECT_TO_POOL",
            "--redirect-pool", pool, b_objs["listener"]["id"])
    b.fails("loadbalancer", "listener", "set", "--default-pool", pool,
            b_objs["listener"]["id"])
    # Nothing of A's changed, nothing was made on A's objects.
    admin = users["admin"]
    shown = admin.ok("loadbalancer", "show", lb)
    assert shown["name"] == "xp-a-lb" and shown["provisioning_status"] == "ACTIVE"
    port = admin.ok("port", "show", a["port"]["id"], region=CENTRAL)
    assert port["device_id"] == ""
    assert b.ok("loadbalancer", "member", "list", b_objs["pool"]["id"]) == []
    assert b.ok("loadbalancer", "l7policy", "list") == []


def test_what_the_apis_answer_b(xp: dict[str, Any]) -> None:
    """The same attempts over REST, where no client-side look-up stands in between."""
    a, b_objs = xp["a"], xp["b"]
    conn = xp["users"]["b"].sdk()
    lb, pool, port = a["lb"]["id"], a["pool"]["id"], a["port"]["id"]
    policy = "Policy does not allow this request to be performed."
    resp = rest(conn, "GET", "load-balancer", f"/v2/lbaas/loadbalancers/{lb}")
    assert resp.status_code == 403 and resp.json()["faultstring"] == policy
    assert rest(conn, "DELETE", "load-balancer", f"/v2/lbaas/pools/{pool}").status_code == 403
    listed = rest(conn, "GET", "load-balancer", "/v2/lbaas/loadbalancers",
                  params={"project_id": a["lb"]["project_id"]})
    assert listed.status_code == 403, listed.text
    made = rest(conn, "POST", "load-balancer", "/v2/lbaas/loadbalancers",
                json={"loadbalancer": {"vip_port_id": port}})
    assert made.status_code == 400 and made.json()["faultstring"] == f"Port {port} not found."
    member = rest(conn, "POST", "load-balancer",
                  f"/v2/lbaas/pools/{b_objs['pool']['id']}/members",
                  json={"member": {"address": "10.77.1.50", "protocol_port": 80,
                                   "subnet_id": a["sub"]["id"]}})
    # Octavia's member controller: NotFound for a subnet the caller cannot see.
    assert member.status_code == 404 and member.json()["faultstring"] == \
        f"Subnet {a['sub']['id']} not found.", member.text
    redirect = rest(conn, "POST", "load-balancer", "/v2/lbaas/l7policies", json={
        "l7policy": {"listener_id": b_objs["listener"]["id"], "action": "REDIRECT_TO_POOL",
                     "redirect_pool_id": pool}})
    assert redirect.status_code == 404 and redirect.json()["faultstring"] == \
        f"Pool {pool} not found."
    attach = rest(conn, "POST", "compute",
                  f"/servers/{b_objs['server']['id']}/os-interface",
                  json={"interfaceAttachment": {"port_id": port}})
    assert attach.status_code == 404, attach.text
    shown = rest(conn, "GET", "network", f"/v2.0/ports/{port}")
    assert shown.status_code == 404 and shown.json()["NeutronError"]["type"] == "PortNotFound"
    assert rest(conn, "GET", "identity", "/projects").status_code == 403


def test_admin_sees_and_reader_reads_without_writing(xp: dict[str, Any]) -> None:
    users, a = xp["users"], xp["a"]
    lb = a["lb"]["id"]
    admin, reader = users["admin"], users["reader"]
    assert admin.ok("loadbalancer", "show", lb)["project_id"] == \
        admin.ok("project", "show", "demo")["id"]
    assert lb in {x["id"] for x in admin.ok("loadbalancer", "list", "--project", "demo")}
    assert admin.ok("network", "show", a["net"]["id"], region=CENTRAL)["name"] == "xp-a-net"
    assert reader.ok("loadbalancer", "show", lb)["id"] == lb
    assert reader.ok("network", "show", a["net"]["id"], region=CENTRAL)["id"] == \
        a["net"]["id"]
    reader.fails("loadbalancer", "set", "--name", "x", lb)
    reader.fails("loadbalancer", "pool", "create", "--loadbalancer", lb, "--protocol",
                 "HTTP", "--lb-algorithm", "ROUND_ROBIN")
    reader.fails("network", "set", "--name", "x", a["net"]["id"], region=CENTRAL)
    reader.fails("port", "delete", a["port"]["id"], region=CENTRAL)
    assert admin.ok("loadbalancer", "show", lb)["name"] == "xp-a-lb"
