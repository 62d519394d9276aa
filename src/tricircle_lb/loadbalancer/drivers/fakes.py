"""In-memory stand-ins for compute and the amphora agent, beside their interfaces.

They let the controller's flows run against the real networking services
without root: :class:`FakeCompute` satisfies :class:`.compute.ComputeDriver`
and :class:`FakeAmphora` the surface of :class:`.amphora.AmphoraClient`. Both
keep to their interface's contract (boot finds a server by its amphora name,
delete and detach of what is gone succeed, every agent call is idempotent),
record what they were asked in ``calls`` (a list both may share, so a test
sees the order across them), and fail on demand:

- ``fail_on(method, error, times=1)``: the next ``times`` calls of ``method``
  raise ``error`` before doing anything;
- ``FakeCompute.boot_status``: the status new servers report (``ERROR`` is a
  boot that failed, with ``boot_fault`` as Nova's fault message).
"""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraClient, Body
from tricircle_lb.loadbalancer.drivers.compute import (
    ComputeError,
    ComputeNotFound,
    Server,
    server_name,
)

Call = tuple[str, ...]


@dataclass
class _Failures:
    """Errors to raise from the next calls of each method."""

    pending: dict[str, list[Exception]] = field(default_factory=lambda: defaultdict(list))

    def add(self, method: str, error: Exception, times: int) -> None:
        self.pending[method].extend([error] * times)

    def check(self, method: str) -> None:
        if self.pending[method]:
            raise self.pending[method].pop(0)


class FakeCompute:
    """A region's compute: servers come up at once, on the host an availability zone
    ``zone:host`` names or else the first of ``hosts``; ports attach by id."""

    def __init__(self, hosts: tuple[str, ...] = ("host-1", "host-2"),
                 images: dict[str, str] | None = None, calls: list[Call] | None = None) -> None:
        self.host_names = hosts
        self.images = images if images is not None else {"amphora-x64-haproxy": "img-amphora"}
        self.calls: list[Call] = calls if calls is not None else []
        self.servers: dict[str, Server] = {}
        self.ports: dict[str, list[str]] = {}  # server id -> attached port ids, boot order
        self.user_data: dict[str, bytes] = {}
        self.boot_status = "ACTIVE"
        self.boot_fault = ""
        self._failures = _Failures()

    def fail_on(self, method: str, error: Exception, times: int = 1) -> None:
        self._failures.add(method, error, times)

    def boot(self, *, amphora_id: str, image: str, flavor: str, port_ids: tuple[str, ...],
             user_data: bytes, availability_zone: str | None = None) -> Server:
        self._failures.check("boot")
        name = server_name(amphora_id)
        for server in self.servers.values():
            if server.name == name:
                return server
        _, _, host = (availability_zone or "").partition(":")
        server = Server(id=str(uuid.uuid4()), name=name, status=self.boot_status,
                        host=host or self.host_names[0], fault=self.boot_fault)
        self.servers[server.id] = server
        self.ports[server.id] = list(port_ids)
        self.user_data[server.id] = user_data
        self.calls.append(("boot", server.id, amphora_id))
        return server

    def get(self, server_id: str) -> Server:
        self._failures.check("get")
        if server_id not in self.servers:
            raise ComputeNotFound(f"server {server_id} not found")
        return self.servers[server_id]

    def find_image(self, name: str) -> str:
        self._failures.check("find_image")
        if name not in self.images:
            raise ComputeError(f"no image called {name!r}")
        return self.images[name]

    def hosts(self) -> list[str]:
        self._failures.check("hosts")
        return list(self.host_names)

    def delete(self, server_id: str) -> None:
        self._failures.check("delete")
        if self.servers.pop(server_id, None) is not None:
            self.ports.pop(server_id, None)
            self.calls.append(("delete", server_id))

    def attach_port(self, server_id: str, port_id: str) -> None:
        self._failures.check("attach_port")
        if server_id not in self.servers:
            raise ComputeNotFound(f"server {server_id} not found")
        if port_id not in self.ports[server_id]:
            self.ports[server_id].append(port_id)
            self.calls.append(("attach", server_id, port_id))

    def detach_port(self, server_id: str, port_id: str) -> None:
        self._failures.check("detach_port")
        attached = self.ports.get(server_id, [])
        if port_id in attached:
            attached.remove(port_id)
            self.calls.append(("detach", server_id, port_id))


class FakeAmphora(AmphoraClient):
    """Every amphora agent, answering at once; nothing goes over a network.

    ``configs`` holds the configuration each amphora (by management address)
    was last given; ``vips`` and ``networks`` what was plugged into it,
    ``vrrp`` its keepalived settings and ``holders`` which amphora keepalived
    gives each VIP to: the first configured keeps it (nopreempt) until it stops
    or a peer with a higher priority is configured to preempt.
    ``keys`` holds, per management address, every key a call there was signed
    with (:meth:`with_key` gives a view sharing all of this).
    """

    def __init__(self, calls: list[Call] | None = None) -> None:
        super().__init__(namespace="", key=b"fake")
        self.calls: list[Call] = calls if calls is not None else []
        self.configs: dict[str, LoadBalancerConfig] = {}
        self.vips: dict[str, str] = {}
        self.networks: dict[str, list[str]] = defaultdict(list)
        self.vrrp: dict[str, dict[str, object]] = {}
        self.holders: dict[str, str] = {}  # VIP → management address of its MASTER
        self.keys: dict[str, set[bytes]] = defaultdict(set)
        self._failures = _Failures()

    def fail_on(self, method: str, error: Exception, times: int = 1) -> None:
        self._failures.add(method, error, times)

    def with_timeout(self, timeout: float) -> AmphoraClient:
        return self

    def with_key(self, key: bytes) -> AmphoraClient:
        view = copy.copy(self)  # the same amphorae, calls and failures
        view.key = key
        return view

    def _check(self, method: str, ip: str) -> None:
        self._failures.check(method)
        self.keys[ip].add(self.key)

    def info(self, ip: str) -> Body:
        self._check("info", ip)
        vrrp = self.vrrp.get(ip)
        state = None if vrrp is None else \
            "MASTER" if self.holders.get(str(vrrp["vip"])) == ip else "BACKUP"
        return {"hostname": f"amphora-at-{ip}", "api_version": "1.0", "vrrp_state": state}

    def plug_vip(self, ip: str, vip: str, prefixlen: int, mac: str,
                 address: bool = True) -> str:
        self._check("plug_vip", ip)
        if address:  # else keepalived holds it (ACTIVE_STANDBY)
            self.vips[ip] = f"{vip}/{prefixlen}"
        self.calls.append(("plug_vip", ip, vip, mac))
        return "eth1"

    def configure_vrrp(self, ip: str, *, vip: str, prefixlen: int, mac: str, vrrp_ip: str,
                       peers: list[str], priority: int, vrid: int, advert_int: int,
                       auth_pass: str, preempt: bool = False) -> str:
        self._check("configure_vrrp", ip)
        self.vrrp[ip] = {"vip": f"{vip}/{prefixlen}", "mac": mac, "vrrp_ip": vrrp_ip,
                         "peers": list(peers), "priority": priority, "vrid": vrid,
                         "advert_int": advert_int, "auth_pass": auth_pass,
                         "preempt": preempt}
        self._elect(f"{vip}/{prefixlen}")
        self.calls.append(("configure_vrrp", ip))
        return "eth1"

    def stop_vrrp(self, ip: str) -> None:
        self._check("stop_vrrp", ip)
        vrrp = self.vrrp.pop(ip, None)
        if vrrp is not None:
            self._elect(str(vrrp["vip"]))
        self.calls.append(("stop_vrrp", ip))

    def _elect(self, vip: str) -> None:
        peers = {ip: int(str(v["priority"])) for ip, v in self.vrrp.items() if v["vip"] == vip}
        holder = self.holders.get(vip)
        if holder not in peers:
            holder = max(peers, key=lambda ip: peers[ip], default=None)
        else:
            preempting = [ip for ip in peers if self.vrrp[ip]["preempt"]
                          and peers[ip] > peers[str(holder)]]
            holder = max(preempting, key=lambda ip: peers[ip], default=holder)
        if holder is None:
            self.holders.pop(vip, None)
        else:
            self.holders[vip] = holder

    def plug_network(self, ip: str, mac: str) -> str:
        self._check("plug_network", ip)
        if mac not in self.networks[ip]:
            self.networks[ip].append(mac)
        self.calls.append(("plug_network", ip, mac))
        return f"eth{1 + len(self.networks[ip])}"

    def put_config(self, ip: str, config: LoadBalancerConfig) -> list[str]:
        self._check("put_config", ip)
        self.configs[ip] = config
        self.calls.append(("put_config", ip))
        return [listener.id for listener in config.listeners]

    def delete_config(self, ip: str) -> None:
        self._check("delete_config", ip)
        self.configs.pop(ip, None)
        self.calls.append(("delete_config", ip))


__all__ = ["FakeAmphora", "FakeCompute"]
