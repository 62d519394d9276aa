"""Helpers of the load-balancing acceptance tests: backends, the spec's networks, curl loops."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests_support import Cloud, wait_for

# A backend that answers every path with its host name (so a test sees who
# answered, whatever the URL), HTTP/1.1 keep-alive, no logging.
WEB_SERVER = """#!/bin/sh
cat > /tmp/tcl-web-$(hostname).py <<'PY'
import http.server, socket, sys
NAME = socket.gethostname()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (NAME + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", int(sys.argv[1])), Handler).serve_forever()
PY
echo "web server starting"
exec python3 /tmp/tcl-web-$(hostname).py 80
"""

# N datagrams to vip:port, each from a new socket (so a new source port, a new
# session); one answer (or "none") a line. The VIP's family picks the socket's.
UDP_CLIENT = """
import socket, sys
vip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in vip else socket.AF_INET
for _ in range(count):
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(2)
    sock.sendto(b"hello", (vip, port))
    try:
        print(sock.recv(100).decode())
    except OSError:
        print("none")
    sock.close()
"""

AZ = {"RegionOne": "az1", "RegionTwo": "az2"}
NET1, NET2 = "lb-net1", "lb-net2"
# name: (region, network, host)
BACKENDS = {
    "lb-backend1": ("RegionOne", NET1, "RegionOne-host1"),
    "lb-backend2": ("RegionOne", NET1, "RegionOne-host2"),
    "lb-backend3": ("RegionTwo", NET1, "RegionTwo-host1"),
    "lb-backend4": ("RegionTwo", NET2, "RegionTwo-host2"),
}


# The backends' security group: `default` lets in only its own members, so the
# amphorae (and the tests' probes) reach the web servers through this one.
BACKEND_GROUP = "backends"


def own_group(cloud: Cloud, name: str, project: str = "admin") -> str | None:
    """The id of ``project``'s own group ``name``. By id, not by name: an admin sees
    every project's groups, and the CLI refuses a name that several of them share
    (every project has a ``default``)."""
    mine = cloud.openstack("token", "issue", project=project)["project_id"]
    found = cloud.openstack("security", "group", "list", project=project,
                            region="CentralRegion")
    return next((str(g["ID"]) for g in found if g["Name"] == name and g["Project"] == mine),
                None)


def backend_group(cloud: Cloud, project: str = "admin") -> str:
    """``backends`` (HTTP 80 and ICMP in from anywhere), made once per session as a user
    would: ``security group create``, ``security group rule create``."""
    found = own_group(cloud, BACKEND_GROUP, project)
    if found is not None:
        return found
    made = cloud.openstack("security", "group", "create", BACKEND_GROUP, project=project,
                           region="CentralRegion")
    for rule in (("--protocol", "tcp", "--dst-port", "80"), ("--protocol", "icmp")):
        cloud.openstack("security", "group", "rule", "create", "--ingress", *rule,
                        str(made["id"]), project=project, region="CentralRegion")
    return str(made["id"])


def boot(cloud: Cloud, name: str, network: str, region: str, host: str,
         user_data: Path, groups: tuple[str, ...] = (BACKEND_GROUP,),
         wait: bool = True) -> dict[str, Any]:
    """A cirros server running ``user_data``, in ``groups`` (made first if ``backends``).
    With ``wait=False`` it is only requested: :func:`servers_active` waits for several
    at once, so their boots overlap."""
    ids = [backend_group(cloud) if group == BACKEND_GROUP else group for group in groups]
    options = [arg for group in ids for arg in ("--security-group", group)]
    server: dict[str, Any] = cloud.openstack(
        "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", network,
        "--availability-zone", f"{AZ[region]}:{host}", "--user-data", str(user_data),
        *options, name, region=region)
    if wait:
        servers_active(cloud, {str(server["id"]): region})
    return server


# The CLI's --wait polls every 3 s (Octavia) or 5 s (Nova), one new CLI process per
# check; these helpers poll the same APIs over REST, four times a second.
POLL = 0.25


def api_get(url: str, token: str) -> Any:
    resp = httpx.get(url, headers={"X-Auth-Token": token}, timeout=30)
    resp.raise_for_status()
    return resp.json()


def lbaas_url(cloud: Cloud, region: str = "RegionOne") -> str:
    return f"http://127.0.0.1:{cloud.ports[f'loadbalancer-{region}']}/v2/lbaas"


def servers_active(cloud: Cloud, servers: dict[str, str],
                   timeout: float = 300.0) -> None:
    """Wait until every server (id: region) is ACTIVE; one in ERROR fails at once, as the
    CLI's ``server create --wait`` does."""
    token = cloud.admin_token()
    left = dict(servers)

    def done() -> bool:
        for server_id, region in list(left.items()):
            url = f"http://127.0.0.1:{cloud.ports[f'compute-{region}']}/v2.1"
            status = api_get(f"{url}/servers/{server_id}", token)["server"]["status"]
            assert status != "ERROR", f"server {server_id} went to ERROR"
            if status == "ACTIVE":
                del left[server_id]
        return not left
    wait_for(done, timeout, interval=POLL, what=f"servers {sorted(servers)} ACTIVE")


def servers_gone(cloud: Cloud, servers: dict[str, str], timeout: float = 300.0) -> None:
    """Wait until every server (id: region) is deleted (its GET answers 404)."""
    token = cloud.admin_token()

    def gone() -> bool:
        for server_id, region in servers.items():
            url = f"http://127.0.0.1:{cloud.ports[f'compute-{region}']}/v2.1"
            resp = httpx.get(f"{url}/servers/{server_id}", timeout=30,
                             headers={"X-Auth-Token": token})
            if resp.status_code == 404:
                continue
            # The CLI's `delete --wait` stops waiting at ERROR too.
            if resp.status_code != 200 or resp.json()["server"]["status"] != "ERROR":
                return False
        return True
    wait_for(gone, timeout, interval=POLL, what=f"servers {sorted(servers)} deleted")


def lbs_gone(cloud: Cloud, lb_ids: list[str], timeout: float = 300.0,
             region: str = "RegionOne") -> None:
    """Wait until every load balancer is deleted (404, or DELETED as Octavia may show)."""
    token = cloud.admin_token()

    def gone() -> bool:
        for lb_id in lb_ids:
            resp = httpx.get(f"{lbaas_url(cloud, region)}/loadbalancers/{lb_id}",
                             headers={"X-Auth-Token": token}, timeout=30)
            if resp.status_code != 404 and (
                    resp.status_code != 200
                    or resp.json()["loadbalancer"]["provisioning_status"] != "DELETED"):
                return False
        return True
    wait_for(gone, timeout, interval=POLL, what=f"load balancers {lb_ids} deleted")


def lbs_active(cloud: Cloud, lb_ids: list[str], timeout: float = 300.0,
               region: str = "RegionOne") -> dict[str, dict[str, Any]]:
    """Wait until every load balancer is ACTIVE (ERROR fails at once, as ``--wait``
    does); each one's API body by id."""
    token = cloud.admin_token()
    found: dict[str, dict[str, Any]] = {}

    def done() -> bool:
        for lb_id in lb_ids:
            if lb_id in found:
                continue
            lb = api_get(f"{lbaas_url(cloud, region)}/loadbalancers/{lb_id}",
                         token)["loadbalancer"]
            assert lb["provisioning_status"] != "ERROR", f"load balancer went to ERROR: {lb}"
            if lb["provisioning_status"] == "ACTIVE":
                found[lb_id] = lb
        return len(found) == len(lb_ids)
    wait_for(done, timeout, interval=POLL, what=f"load balancers {lb_ids} ACTIVE")
    return found


def server_ip(cloud: Cloud, name: str, region: str) -> str:
    ports = cloud.openstack("port", "list", "--server", name, region=region)
    return str(ports[0]["Fixed IP Addresses"][0]["ip_address"])


def requests(cloud: Cloud, network: str, url: str, count: int,
             extra: tuple[str, ...] = ()) -> list[str]:
    """``count`` sequential requests from a probe on ``network`` in RegionOne; the bodies
    (``FAIL:<code>`` for a failed one), each on a new connection."""
    script = (f'for i in $(seq {count}); do '
              f'out=$(curl -s --max-time 3 {" ".join(extra)} "{url}") '
              '|| out="FAIL:$?"; echo "$out"; done')
    result = cloud.exec("RegionOne", "sh", "-c", script, network=network)
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def counts(lines: list[str]) -> dict[str, int]:
    return dict(collections.Counter(lines))


def lb_wait(cloud: Cloud, kind: str, ref: str, status: str = "ACTIVE",
            timeout: float = 120.0) -> dict[str, Any]:
    """Poll ``openstack loadbalancer <kind> show`` until provisioning_status is ``status``."""
    def done() -> dict[str, Any] | None:
        obj: dict[str, Any] = cloud.openstack("loadbalancer", kind, "show", ref)
        if obj["provisioning_status"] == "ERROR" and status != "ERROR":
            raise AssertionError(f"{kind} {ref} went to ERROR: {obj}")
        return obj if obj["provisioning_status"] == status else None
    result: dict[str, Any] = wait_for(done, timeout, what=f"{kind} {ref} {status}")
    return result


def _settled(cloud: Cloud, path: str) -> dict[str, Any]:
    """What ``create --wait`` does after creating the object at ``path`` (under
    /v2/lbaas): wait for its load balancer to be ACTIVE again, then show the object
    (here its API body: the same fields as the CLI's JSON)."""
    token = cloud.admin_token()
    kind = path.split("/")[-2].removesuffix("s")
    obj: dict[str, Any] = api_get(f"{lbaas_url(cloud)}/{path}", token)[kind]
    parent = obj if kind != "member" else api_get(
        f"{lbaas_url(cloud)}/{path.split('/members/')[0]}", token)["pool"]
    lbs_active(cloud, [str(parent["loadbalancers"][0]["id"])])
    shown: dict[str, Any] = api_get(f"{lbaas_url(cloud)}/{path}", token)[kind]
    return shown


def listener(cloud: Cloud, name: str, protocol: str, port: int, *extra: str,
             lb: str = "lb-e2e") -> dict[str, Any]:
    # The load balancer before the options: one taking several values
    # (--sni-container-refs) would swallow it.
    made = cloud.openstack(
        "loadbalancer", "listener", "create", lb, "--name", name, "--protocol", protocol,
        "--protocol-port", str(port), *extra)
    return _settled(cloud, f"listeners/{made['id']}")


def pool(cloud: Cloud, name: str, listener: str, protocol: str, algorithm: str,
         *extra: str) -> dict[str, Any]:
    made = cloud.openstack(
        "loadbalancer", "pool", "create", "--name", name, "--listener", listener,
        "--protocol", protocol, "--lb-algorithm", algorithm, *extra)
    return _settled(cloud, f"pools/{made['id']}")


def member(cloud: Cloud, pool: str, spec: dict[str, Any], backend: str, *extra: str,
           port: int = 80) -> dict[str, Any]:
    """``backend`` as a member of ``pool``, on its own subnet (subnet2 for backend4)."""
    subnet = spec["subnet2"] if BACKENDS[backend][1] == NET2 else spec["subnet1"]
    made = cloud.openstack(
        "loadbalancer", "member", "create", "--name", backend, "--subnet-id", subnet["id"],
        "--address", spec["ips"][backend], "--protocol-port", str(port), *extra, pool)
    # The pool by id or name, as the CLI resolves it (a name must be unique).
    pools = api_get(f"{lbaas_url(cloud)}/pools", cloud.admin_token())["pools"]
    [pool_id] = [p["id"] for p in pools if pool in (p["id"], p["name"])]
    return _settled(cloud, f"pools/{pool_id}/members/{made['id']}")


def amphorae(cloud: Cloud, lb_id: str, deleted: bool = False) -> list[dict[str, Any]]:
    """The amphorae of a load balancer (the DELETED ones too if ``deleted``)."""
    amps: list[dict[str, Any]] = cloud.openstack("loadbalancer", "amphora", "list",
                                                 "--loadbalancer", lb_id)
    return [a for a in amps if deleted or a["status"] != "DELETED"]


def namespace_pids(namespace: str, name: str | None = None) -> list[int]:
    """Processes in a namespace (only those whose command is ``name`` if given)."""
    out = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True,
                         check=False).stdout.split()
    return [int(p) for p in out if name is None or _comm(int(p)) == name]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill(pids: list[int]) -> None:
    """SIGKILL each process; one already gone (a child of another) is fine."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def amphora_namespace(cloud: Cloud, amphora_id: str) -> str:
    """The namespace of an amphora (its server lives in the service's project)."""
    server_id = str(cloud.openstack("loadbalancer", "amphora", "show",
                                    amphora_id)["compute_id"])
    return f"{cloud.prefix}i-{server_id.replace('-', '')[:12]}"


def lb_active(cloud: Cloud, name: str, timeout: float = 180.0) -> dict[str, Any]:
    """The load balancer once ACTIVE; tolerates the service being restarted meanwhile."""
    def active() -> dict[str, Any] | None:
        shown = cloud.openstack_raw("loadbalancer", "show", name, "-f", "json")
        if shown.returncode != 0:
            return None  # the service is coming back after a kill -9
        lb: dict[str, Any] = json.loads(shown.stdout)
        assert lb["provisioning_status"] != "ERROR", lb
        return lb if lb["provisioning_status"] == "ACTIVE" else None
    result: dict[str, Any] = wait_for(active, timeout, what=f"{name} ACTIVE")
    return result


def udp_answers(cloud: Cloud, network: str, vip: str, port: int, count: int) -> list[str]:
    """The answers to ``count`` datagrams from a probe on ``network`` in RegionOne."""
    result = cloud.exec("RegionOne", "python3", "-c", UDP_CLIENT, vip, str(port), str(count),
                        network=network)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def whole_pair(cloud: Cloud, lb_id: str) -> bool:
    """An ACTIVE_STANDBY load balancer ACTIVE with a MASTER and a BACKUP, both ALLOCATED
    (no failover under way)."""
    amps = amphorae(cloud, lb_id)
    lb = cloud.openstack("loadbalancer", "show", lb_id)
    return (lb["provisioning_status"] == "ACTIVE"
            and sorted(a["role"] for a in amps) == ["BACKUP", "MASTER"]
            and all(a["status"] == "ALLOCATED" for a in amps))
