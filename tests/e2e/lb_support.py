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
         user_data: Path, groups: tuple[str, ...] = (BACKEND_GROUP,)) -> dict[str, Any]:
    """A cirros server running ``user_data``, in ``groups`` (made first if ``backends``)."""
    ids = [backend_group(cloud) if group == BACKEND_GROUP else group for group in groups]
    options = [arg for group in ids for arg in ("--security-group", group)]
    server: dict[str, Any] = cloud.openstack(
        "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", network,
        "--availability-zone", f"{AZ[region]}:{host}", "--user-data", str(user_data),
        *options, "--wait", name, region=region)
    assert server["status"] == "ACTIVE", server
    return server


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


def listener(cloud: Cloud, name: str, protocol: str, port: int, *extra: str,
             lb: str = "lb-e2e") -> dict[str, Any]:
    made: dict[str, Any] = cloud.openstack(
        "loadbalancer", "listener", "create", "--name", name, "--protocol", protocol,
        "--protocol-port", str(port), *extra, "--wait", lb)
    return made


def pool(cloud: Cloud, name: str, listener: str, protocol: str, algorithm: str,
         *extra: str) -> dict[str, Any]:
    made: dict[str, Any] = cloud.openstack(
        "loadbalancer", "pool", "create", "--name", name, "--listener", listener,
        "--protocol", protocol, "--lb-algorithm", algorithm, *extra, "--wait")
    return made


def member(cloud: Cloud, pool: str, spec: dict[str, Any], backend: str, *extra: str,
           port: int = 80) -> dict[str, Any]:
    """``backend`` as a member of ``pool``, on its own subnet (subnet2 for backend4)."""
    subnet = spec["subnet2"] if BACKENDS[backend][1] == NET2 else spec["subnet1"]
    made: dict[str, Any] = cloud.openstack(
        "loadbalancer", "member", "create", "--name", backend, "--subnet-id", subnet["id"],
        "--address", spec["ips"][backend], "--protocol-port", str(port), *extra, "--wait",
        pool)
    return made


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
