"""Render a load balancer's UDP listeners as an nginx ``stream`` configuration.

HAProxy does not proxy UDP and this kernel has no IPVS (Octavia's keepalived +
LVS), so an amphora's UDP listeners are served by nginx's stream module
(docs/decisions/087-udp-with-nginx-stream.md). :func:`split` cuts a
:class:`LoadBalancerConfig` into HAProxy's part and nginx's part; :func:`render`
validates nginx's part and writes it out.

Shape of the output:

- one ``upstream pool_<pool id>`` per UDP pool a listener uses, one ``server``
  per member with ``max_fails=0``: nginx's passive checks are off, the amphora
  agent's health monitor (:mod:`.agent.udp_health`) is the only judge, and the
  members it finds down are rendered ``down`` (``down`` is passed in);
- ``lb_algorithm``: ROUND_ROBIN is nginx's default, LEAST_CONNECTIONS is
  ``least_conn``, SOURCE_IP is ``hash $remote_addr consistent``;
- SOURCE_IP session persistence is ``hash <key> consistent`` as well, the key
  being the client's address masked by ``persistence_granularity``. nginx
  cannot mask bits, so the mask is widened to whole octets (255.255.255.128
  hashes on the first three octets): clients LVS would keep together stay
  together, a few more share their member. IPv6 clients hash on their whole
  address. ``persistence_timeout`` becomes ``proxy_timeout`` (how long a client's
  UDP session, and so its member, lives without traffic); without it the
  listener's ``timeout_client_data``;
- a member with ``admin_state_up`` false or weight 0 is ``down``; ``backup``
  members are nginx ``backup`` servers, except with a hash (nginx refuses
  ``backup`` there): then they are ``down`` while a primary member is usable;
- one ``server`` block per listener: ``listen <vip>:<port> udp``, ``allow``
  per ``allowed_cidrs`` then ``deny all``, ``proxy_pass`` to its default pool;
  a listener without a usable pool proxies to an upstream whose only server is
  ``down``, so datagrams are dropped (as LVS without real servers).

Injection: ids must match ``[A-Za-z0-9][A-Za-z0-9_-]{0,63}``; addresses and
CIDRs are parsed by :mod:`ipaddress` and re-rendered; paths are checked against
a strict pattern; nothing else reaches the file.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from tricircle_lb.loadbalancer.amphora.model import (
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
)

UDP = "UDP"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
NO_POOL = "_no_pool"
_PLACEHOLDER = "127.0.0.1:9"  # discard; only ever rendered ``down``
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_PATH_RE = re.compile(r"/[A-Za-z0-9_./+-]{1,4000}")


class UdpConfigError(ValueError):
    """The UDP part cannot be rendered safely; the message names the field."""


def split(config: LoadBalancerConfig) -> tuple[LoadBalancerConfig, LoadBalancerConfig]:
    """(HAProxy's part, nginx's part): UDP listeners and pools go to nginx."""
    return (replace(config, listeners=tuple(li for li in config.listeners if li.protocol != UDP),
                    pools=tuple(p for p in config.pools if p.protocol != UDP)),
            replace(config, listeners=tuple(li for li in config.listeners if li.protocol == UDP),
                    pools=tuple(p for p in config.pools if p.protocol == UDP)))


def used_pools(config: LoadBalancerConfig) -> tuple[Pool, ...]:
    """The UDP pools some UDP listener sends to (the only ones nginx serves)."""
    wanted = {li.default_pool_id for li in config.listeners if li.protocol == UDP}
    return tuple(p for p in config.pools if p.id in wanted and p.protocol == UDP)


def _id(value: str, where: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise UdpConfigError(f"{where}: not a valid id: {value!r}")
    return value


def _path(value: Path | str, where: str) -> str:
    text = str(value)
    if not _PATH_RE.fullmatch(text):
        raise UdpConfigError(f"{where}: not a plain absolute path: {text!r}")
    return text


def _port(value: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise UdpConfigError(f"{where}: not a port: {value!r}")
    return value


def _endpoint(address: str, port: int, where: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise UdpConfigError(f"{where}: not an IP address: {address!r}") from None
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"{host}:{_port(port, where)}"


def _octets(granularity: str | None, where: str) -> int:
    """How many leading octets of an IPv4 client address the hash keeps (4: all)."""
    if granularity is None:
        return 4
    try:
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{granularity}").prefixlen
    except ValueError:
        raise UdpConfigError(f"{where}: not a netmask: {granularity!r}") from None
    return prefix // 8


def _hash_key(pool: Pool, where: str) -> str | None:
    sp = pool.session_persistence
    if sp is not None:
        if sp.type != "SOURCE_IP":
            raise UdpConfigError(f"{where}.session_persistence.type: {sp.type} is not "
                                 "supported for UDP pools")
        octets = _octets(sp.persistence_granularity,
                         f"{where}.session_persistence.persistence_granularity")
        return "$remote_addr" if octets == 4 else f"$tcl_client_{octets}"
    if pool.lb_algorithm == "SOURCE_IP":
        return "$remote_addr"
    return None


def _maps(keys: Collection[str]) -> list[str]:
    """``$tcl_client_<n>``: the first n octets of an IPv4 client (0: one key for all)."""
    lines: list[str] = []
    for key in sorted(keys):
        if not key.startswith("$tcl_client_"):
            continue
        n = int(key.rsplit("_", 1)[1])
        lines.append(f"    map $remote_addr {key} {{")
        if n:
            head = r"\d+" + r"(?:\.\d+)" * (n - 1)
            lines.append(f'        "~^({head})\\.\\d+" $1;')
            lines.append("        default $remote_addr;")
        else:
            lines.append('        default "all";')
        lines.append("    }")
    return lines


def _usable(m: Member, down: Collection[str]) -> bool:
    return m.admin_state_up and m.weight > 0 and m.id not in down


def _upstream(pool: Pool, key: str | None, down: Collection[str], where: str) -> list[str]:
    lines = [f"    upstream pool_{_id(pool.id, f'{where}.id')} {{"]
    if pool.lb_algorithm == "LEAST_CONNECTIONS" and key is None:
        lines.append("        least_conn;")
    if key is not None:
        lines.append(f"        hash {key} consistent;")
    primary_usable = any(_usable(m, down) and not m.backup for m in pool.members)
    for i, m in enumerate(pool.members):
        mwhere = f"{where}.members[{i}]"
        _id(m.id, f"{mwhere}.id")
        if isinstance(m.weight, bool) or not 0 <= m.weight <= 256:
            raise UdpConfigError(f"{mwhere}.weight: must be 0..256")
        words = [f"server {_endpoint(m.address, m.protocol_port, f'{mwhere}.address')}",
                 f"weight={max(m.weight, 1)}", "max_fails=0"]
        if not _usable(m, down) or (m.backup and key is not None and primary_usable):
            words.append("down")
        elif m.backup and key is None:
            words.append("backup")
        lines.append(f"        {' '.join(words)};  # member {m.id}")
    if not pool.members:
        lines.append(f"        server {_PLACEHOLDER} down;  # no members")
    lines.append("    }")
    return lines


def _server(li: Listener, vip: str, pools: dict[str, Pool], where: str) -> list[str]:
    _id(li.id, f"{where}.id")
    lines = [f"    server {{  # listener {li.id}",
             f"        listen {_endpoint(vip, li.protocol_port, f'{where}.protocol_port')} udp;"]
    for j, cidr in enumerate(li.allowed_cidrs):
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise UdpConfigError(f"{where}.allowed_cidrs[{j}]: not a CIDR: {cidr!r}") from None
        lines.append(f"        allow {network};")
    if li.allowed_cidrs:
        lines.append("        deny all;")
    pool = pools.get(li.default_pool_id or "")
    upstream = f"pool_{pool.id}" if pool is not None else NO_POOL
    timeout = f"{session_timeout_ms(li, pool, where)}ms"
    lines += [f"        proxy_pass {upstream};", f"        proxy_timeout {timeout};", "    }"]
    return lines


def session_timeout_ms(li: Listener, pool: Pool | None, where: str = "listener") -> int:
    """How long nginx keeps a client's UDP session without traffic (``proxy_timeout``):
    the pool's ``persistence_timeout`` (seconds), else the listener's
    ``timeout_client_data``. The statistics' flow sets expire on it too."""
    if pool is not None and pool.session_persistence is not None \
            and (seconds := pool.session_persistence.persistence_timeout) is not None:
        if isinstance(seconds, bool) or seconds < 1:
            raise UdpConfigError(f"{where}: the pool's persistence_timeout must be >= 1")
        return int(seconds) * 1000
    if li.timeout_client_data < 1:
        raise UdpConfigError(f"{where}.timeout_client_data: must be >= 1")
    return int(li.timeout_client_data)


def render(config: LoadBalancerConfig, *, pid_file: Path, error_log: Path,
           down: Collection[str] = (), stream_module: str = STREAM_MODULE) -> str:
    """The nginx configuration of ``config``'s UDP listeners; ``down``: member ids the
    health monitor found down. Raises :class:`UdpConfigError`."""
    _id(config.id, "config.id")
    try:
        vip = str(ipaddress.ip_address(config.vip_address))
    except ValueError:
        raise UdpConfigError(f"config.vip_address: not an IP address: "
                             f"{config.vip_address!r}") from None
    listeners = [li for li in config.listeners if li.protocol == UDP]
    pools = {p.id: p for p in used_pools(config)}
    keys = {pid: _hash_key(p, f"pool {pid}") for pid, p in pools.items()}
    lines = [f"# UDP listeners of load balancer {config.id}, rendered by the amphora agent.",
             f"load_module {_path(stream_module, 'stream_module')};",
             f"pid {_path(pid_file, 'pid_file')};",
             f"error_log {_path(error_log, 'error_log')} warn;",
             "worker_processes 1;",
             "worker_shutdown_timeout 5s;  # a reload's old worker lets go of its sessions",
             "events {", "    worker_connections 4096;", "}", "stream {"]
    lines += _maps({k for k in keys.values() if k is not None})
    for pid, pool in pools.items():
        lines += _upstream(pool, keys[pid], down, f"pool {pid}")
    lines += [f"    upstream {NO_POOL} {{", f"        server {_PLACEHOLDER} down;", "    }"]
    ports: set[int] = set()
    for i, li in enumerate(listeners):
        where = f"listeners[{i}]"
        if li.protocol_port in ports:
            raise UdpConfigError(f"{where}.protocol_port: {li.protocol_port} is used twice")
        ports.add(li.protocol_port)
        lines += _server(li, vip, pools, where)
    lines.append("}")
    return "\n".join(lines) + "\n"
