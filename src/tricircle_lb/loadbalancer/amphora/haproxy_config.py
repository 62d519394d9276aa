"""Render a load balancer's desired state as an HAProxy 2.6 configuration.

The input is typed (:class:`LoadBalancerConfig` and the frozen dataclasses it
holds); :func:`render` validates everything, turns it into ready-made,
safe configuration tokens and lays them out with ``templates/haproxy.cfg.j2``.

Shape of the output (as Octavia's amphora driver, with differences noted):

- ``global``: ``master-worker``, ``maxconn`` sized by :func:`global_maxconn`
  to fit the open-files limit, the pid file, and an admin stats socket with
  ``expose-fd listeners`` so a reload hands the listening sockets over without
  dropping connections; ``option idle-close-on-response`` keeps the old
  worker from closing idle keep-alive connections under their clients.
- one ``frontend <listener id>`` per listener; HTTP, TERMINATED_HTTPS and
  PROMETHEUS are ``mode http``, TCP and HTTPS (pass-through) are ``mode tcp``.
  UDP and SCTP listeners are left out (nginx serves them beside HAProxy).
  TLS termination, re-encryption to members and the X-SSL-* headers are
  :mod:`.tls_config`'s; a PROMETHEUS listener is HAProxy's built-in exporter
  (``http-request use-service prometheus-exporter``) on the listener's port.
- PROXY/PROXYV2 pools: ``send-proxy``/``send-proxy-v2`` on every server.
- one ``backend <pool id>:<listener id>`` per pool a listener uses (its
  default pool and the pools of its REDIRECT_TO_POOL policies): the backend's
  mode and member timeouts are the listener's, so a pool shared by two
  listeners gets one backend for each.
- L7 policies keep Octavia's "first policy by position wins" semantics
  (:mod:`.l7_config`).
- PING health monitors become plain TCP connect checks: HAProxy cannot send
  ICMP without ``external-check`` (a forked program per check, which we do
  not allow in the amphora).

Injection rules (no user-controlled string may add configuration):

- Names never appear in the file. Ids (load balancer, listener, pool, member,
  policy, rule) must match ``[A-Za-z0-9][A-Za-z0-9_-]{0,63}`` (UUIDs do).
- Every string that reaches the file must be printable
  (:meth:`str.isprintable`: no newline, NUL, tab or other control or
  separator character) and within a length limit, else
  :class:`ConfigRenderError` names the field.
- Strict patterns: addresses and CIDRs are parsed by :mod:`ipaddress` and
  re-rendered; ``url_path`` is an RFC 3986 absolute path (``/`` followed by
  unreserved, sub-delims, ``:@/%?`` characters); ``http_method`` and every enum
  come from a fixed set; ``expected_codes`` is ``NNN``, ``NNN,NNN…`` or
  ``NNN-NNN``; cookie names and L7 HEADER/COOKIE keys are HTTP tokens
  without HAProxy's special characters (``[A-Za-z0-9!*+.^_|~-]+``);
  ``redirect_url`` is an ``http``/``https`` URL without whitespace; REGEX
  values must compile.
- Free values (L7 values, ``redirect_url``, ``url_path``, file paths) are
  written as one single-quoted HAProxy word: inside single quotes HAProxy
  reads ``#``, spaces, ``"``, ``\\``, ``$`` and braces literally, and a ``'`` is
  written as ``'\\''`` (close, escaped quote, reopen). ACL patterns follow
  ``--`` so a value such as ``-f /etc/passwd`` is a pattern, not a flag.
  ``redirect_url`` is a log-format string for HAProxy, so its ``%`` are
  doubled: ``%[src]`` stays text instead of becoming a sample fetch.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from tricircle_lb.loadbalancer.amphora import log_config, tls_config
from tricircle_lb.loadbalancer.amphora.l7_config import l7_lines
from tricircle_lb.loadbalancer.amphora.log_config import NO_LOG_TARGETS, LogTargets
from tricircle_lb.loadbalancer.amphora.model import (
    HealthMonitor,
    Listener,
    LoadBalancerConfig,
    Pool,
)
from tricircle_lb.loadbalancer.amphora.render_checks import (
    TOKEN_RE,
    ConfigRenderError,
    address,
    ident,
    integer,
    match,
    printable,
    quote,
)

INSERT_HEADERS = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto",
                  *tls_config.SSL_HEADERS)
# Listeners and pools another program serves (engineer E's nginx stream beside HAProxy).
NOT_HAPROXY = ("UDP", "SCTP")
HTTP_LISTENERS = ("HTTP", "TERMINATED_HTTPS", "PROMETHEUS")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "PATCH", "CONNECT")
STICK_TABLE_SIZE = "10k"


_URL_PATH_RE = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/%?-]{0,2047}")
_CODES_RE = re.compile(r"(\d{3})(?:-(\d{3})|((?:,\d{3})*))")
_HOST_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?(:\d{1,5})?")
_id, _printable, _match, _int, _address = ident, printable, match, integer, address
_TOKEN_RE = TOKEN_RE


def _expect(codes: str, where: str) -> str:
    m = _CODES_RE.fullmatch(_printable(codes, where, 255))
    if not m:
        raise ConfigRenderError(f"{where}: expected NNN, NNN,NNN or NNN-NNN: {codes!r}")
    if m.group(2):
        low, high = int(m.group(1)), int(m.group(2))
        if not 100 <= low <= high <= 599:
            raise ConfigRenderError(f"{where}: bad range {codes!r}")
        values = [str(c) for c in range(low, high + 1)]
    else:
        values = codes.split(",")
    for code in values:
        if not 100 <= int(code) <= 599:
            raise ConfigRenderError(f"{where}: not an HTTP status: {code}")
    if len(values) == 1:
        return f"http-check expect status {values[0]}"
    return "http-check expect rstatus ^(" + "|".join(values) + ")$"


def global_maxconn(open_files_limit: int, *, listeners: int = 0, servers: int = 0) -> int:
    """The most connections HAProxy can hold within ``open_files_limit`` descriptors.

    A proxied connection costs two descriptors (client side, server side). The
    headroom covers listening sockets, one health check per server, the stats
    socket and master-worker pipes, plus a tenth of the limit for HAProxy's own
    estimate (it also counts pollers and resolvers).
    """
    _int(open_files_limit, "open_files_limit", 1, 1 << 30)
    headroom = 64 + listeners + servers + open_files_limit // 10
    maxconn = (open_files_limit - headroom) // 2
    if maxconn < 1:
        raise ConfigRenderError(f"open_files_limit: {open_files_limit} leaves no connections")
    return maxconn


# -- view model: ready-made lines for the template -------------------------------


@dataclass(frozen=True)
class _Frontend:
    name: str
    mode: str
    bind: str
    maxconn: int
    timeout_client: int
    inspect_delay: int
    lines: tuple[str, ...]
    default_backend: str | None


@dataclass(frozen=True)
class _Backend:
    name: str
    mode: str
    balance: str
    timeout_connect: int
    timeout_server: int
    lines: tuple[str, ...]
    servers: tuple[str, ...]


_BALANCE = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn", "SOURCE_IP": "source"}
def _frontend(listener: Listener, vip: str, maxconn: int, backend_of: Mapping[str, str],
              cert_dir: Path | None, pem_names: set[str]) -> _Frontend:
    where = f"listeners[{listener.id}]"
    name = _id(listener.id, f"{where}.id")
    if listener.protocol not in ("HTTPS", "TCP", *HTTP_LISTENERS):
        raise ConfigRenderError(f"{where}.protocol: unknown {listener.protocol!r}")
    mode = "http" if listener.protocol in HTTP_LISTENERS else "tcp"
    limit = _int(listener.connection_limit, f"{where}.connection_limit", -1, 1 << 30)
    bind = _address(vip, listener.protocol_port, f"{where}.protocol_port / vip_address")
    lines: list[str] = []
    if listener.allowed_cidrs:
        nets = []
        for i, cidr in enumerate(listener.allowed_cidrs):
            try:
                nets.append(str(ipaddress.ip_network(cidr, strict=False)))
            except (ValueError, TypeError):
                raise ConfigRenderError(
                    f"{where}.allowed_cidrs[{i}]: not a CIDR: {cidr!r}"
                ) from None
        lines.append(f"tcp-request connection reject if !{{ src {' '.join(nets)} }}")
    tls = listener.tls
    if tls is not None and (listener.protocol not in ("TERMINATED_HTTPS", "PROMETHEUS")
                            or not tls_config.terminates(tls)):
        raise ConfigRenderError(f"{where}.tls: TERMINATED_HTTPS or PROMETHEUS listeners with "
                                "a certificate only")
    if listener.protocol == "TERMINATED_HTTPS" and tls is None:
        raise ConfigRenderError(f"{where}.tls: TERMINATED_HTTPS needs a certificate")
    if tls is not None:
        bind += " " + tls_config.bind_options(name, tls, cert_dir, pem_names, f"{where}.tls")
        # Octavia's TERMINATED_HTTPS frontends turn plain HTTP away to HTTPS.
        lines.append("http-request redirect scheme https unless { ssl_fc }")
        hsts = tls_config.hsts_line(tls, f"{where}.tls")
        if hsts:
            lines.append(hsts)
    wanted: dict[str, bool] = {}
    for header, enabled in listener.insert_headers.items():
        if header not in INSERT_HEADERS:
            raise ConfigRenderError(f"{where}.insert_headers: unsupported header {header!r}")
        wanted[header] = enabled is True or (isinstance(enabled, str)
                                             and enabled.lower() == "true")
    if any(wanted.values()) and mode != "http":
        raise ConfigRenderError(f"{where}.insert_headers: only for HTTP listeners")
    ssl_headers = [h for h in tls_config.SSL_HEADERS if wanted.get(h)]
    if ssl_headers and listener.protocol != "TERMINATED_HTTPS":
        raise ConfigRenderError(f"{where}.insert_headers: {ssl_headers[0]} only for "
                                "TERMINATED_HTTPS listeners")
    if wanted.get("X-Forwarded-For"):
        lines.append("option forwardfor")
    if wanted.get("X-Forwarded-Port"):
        lines.append("http-request set-header X-Forwarded-Port %[dst_port]")
    if wanted.get("X-Forwarded-Proto"):
        scheme = "https" if tls is not None else "http"
        lines.append(f"http-request set-header X-Forwarded-Proto {scheme}")
    lines += tls_config.ssl_header_lines(wanted)
    if listener.l7policies and mode != "http":
        raise ConfigRenderError(f"{where}.l7policies: only for HTTP listeners")
    lines += l7_lines(listener, backend_of, where)
    default = None
    if listener.protocol == "PROMETHEUS":
        if backend_of:
            raise ConfigRenderError(f"{where}: PROMETHEUS listeners take no pools")
        # HAProxy's own exporter answers every request on this listener.
        lines.append("http-request use-service prometheus-exporter")
    elif listener.default_pool_id is not None:
        default = backend_of[_id(listener.default_pool_id, f"{where}.default_pool_id")]
    return _Frontend(
        name=name,
        mode=mode,
        bind=bind,
        maxconn=maxconn if limit == -1 else min(limit, maxconn),
        timeout_client=_int(listener.timeout_client_data, f"{where}.timeout_client_data",
                            0, 86400000),
        inspect_delay=_int(listener.timeout_tcp_inspect, f"{where}.timeout_tcp_inspect",
                           0, 86400000),
        lines=tuple(lines),
        default_backend=default,
    )


def _monitor_lines(hm: HealthMonitor, where: str) -> tuple[list[str], str]:
    """Backend lines and the server option string for a health monitor."""
    if hm.type not in ("HTTP", "HTTPS", "TCP", "PING", "TLS-HELLO"):
        raise ConfigRenderError(f"{where}.type: unknown {hm.type!r}")
    delay = _int(hm.delay, f"{where}.delay", 1, 86400)
    timeout = _int(hm.timeout, f"{where}.timeout", 1, 86400)
    rise = _int(hm.max_retries, f"{where}.max_retries", 1, 10)
    fall = _int(hm.max_retries_down, f"{where}.max_retries_down", 1, 10)
    lines = [f"timeout check {timeout}s"]
    check = "check"
    if hm.type in ("HTTP", "HTTPS"):
        if hm.http_method not in HTTP_METHODS:
            raise ConfigRenderError(f"{where}.http_method: unknown {hm.http_method!r}")
        path = _match(_URL_PATH_RE, hm.url_path, f"{where}.url_path", "an absolute URL path",
                      2048)
        if hm.http_version not in (None, "1.0", "1.1"):
            raise ConfigRenderError(f"{where}.http_version: 1.0 or 1.1, not {hm.http_version!r}")
        version = f" HTTP/{hm.http_version}" if hm.http_version else ""
        lines.append(f"option httpchk {hm.http_method} {quote(path)}{version}")
        if hm.http_version == "1.1" and hm.domain_name is not None:
            host = _match(_HOST_RE, hm.domain_name, f"{where}.domain_name", "a host name", 255)
            lines.append(f"http-check send hdr Host {host}")
        lines.append(_expect(hm.expected_codes, f"{where}.expected_codes"))
        if hm.type == "HTTPS":
            check = "check check-ssl verify none"
    elif hm.type == "TLS-HELLO":
        # A real TLS handshake (decision 086): option ssl-hello-chk sends an SSLv3
        # hello, which today's TLS servers refuse.
        check = "check check-ssl verify none"
    # TCP and PING: a TCP connect check (HAProxy cannot ping; see the module doc).
    return lines, f"{check} inter {delay}s fall {fall} rise {rise}"


def _backend(pool: Pool, listener: Listener, name: str, cert_dir: Path | None,
             pem_names: set[str]) -> _Backend:
    where = f"pools[{pool.id}]"
    mode = "http" if listener.protocol in HTTP_LISTENERS else "tcp"
    if pool.protocol not in ("HTTP", "HTTPS", "TCP", "PROXY", "PROXYV2"):
        raise ConfigRenderError(f"{where}.protocol: unknown {pool.protocol!r}")
    tail: list[str] = []  # after the member's own options, the pool's for every server
    if pool.protocol == "PROXY":
        tail.append("send-proxy")
    elif pool.protocol == "PROXYV2":
        # Octavia's choice: from a TLS-terminating listener, also the client cert's CN.
        tail.append("send-proxy-v2-ssl-cn" if listener.tls is not None else "send-proxy-v2")
    if pool.tls is not None:
        tail += tls_config.server_options(pool.tls, cert_dir, pem_names, f"{where}.tls")
    if pool.lb_algorithm not in _BALANCE:
        raise ConfigRenderError(f"{where}.lb_algorithm: unknown {pool.lb_algorithm!r}")
    lines: list[str] = []
    sp = pool.session_persistence
    cookie_servers = False
    if sp is not None:
        if sp.type == "SOURCE_IP":
            lines += [f"stick-table type ipv6 size {STICK_TABLE_SIZE}", "stick on src"]
        elif sp.type in ("HTTP_COOKIE", "APP_COOKIE"):
            if mode != "http":
                raise ConfigRenderError(
                    f"{where}.session_persistence: {sp.type} needs an HTTP listener"
                )
            if sp.type == "HTTP_COOKIE":
                lines.append("cookie SRV insert indirect nocache")
                cookie_servers = True
            else:
                cookie = _match(_TOKEN_RE, sp.cookie_name or "",
                                f"{where}.session_persistence.cookie_name", "a cookie name", 64)
                lines += [
                    f"stick-table type string len 64 size {STICK_TABLE_SIZE}",
                    f"stick store-response res.cook({cookie})",
                    f"stick match req.cook({cookie})",
                ]
        else:
            raise ConfigRenderError(f"{where}.session_persistence.type: unknown {sp.type!r}")
    check = ""
    if pool.health_monitor is not None:
        hm_lines, check = _monitor_lines(pool.health_monitor, f"{where}.health_monitor")
        lines += hm_lines
        if pool.tls is not None and pool.tls.alpn_protocols:
            # As Octavia: checks offer the members what traffic offers them.
            check += " " + tls_config.check_alpn(pool.tls.alpn_protocols,
                                                 f"{where}.tls.alpn_protocols")
    servers = []
    member_ids = [m.id for m in pool.members]
    if len(set(member_ids)) != len(member_ids):
        raise ConfigRenderError(f"{where}.members: duplicate member id")
    for m in pool.members:
        mwhere = f"{where}.members[{m.id}]"
        parts = ["server", _id(m.id, f"{mwhere}.id"),
                 _address(m.address, m.protocol_port, f"{mwhere}.address"),
                 f"weight {_int(m.weight, f'{mwhere}.weight', 0, 256)}"]
        if check:
            parts.append(check)
            if m.monitor_address is not None:
                try:
                    parts.append(f"addr {ipaddress.ip_address(m.monitor_address)}")
                except ValueError:
                    raise ConfigRenderError(
                        f"{mwhere}.monitor_address: not an IP address: {m.monitor_address!r}"
                    ) from None
            if m.monitor_port is not None:
                parts.append(f"port {_int(m.monitor_port, f'{mwhere}.monitor_port', 1, 65535)}")
        if cookie_servers:
            parts.append(f"cookie {m.id}")
        if m.backup:
            parts.append("backup")
        if not m.admin_state_up:
            parts.append("disabled")
        parts += tail
        servers.append(" ".join(parts))
    lwhere = f"listeners[{listener.id}]"
    return _Backend(
        name=name,
        mode=mode,
        balance=_BALANCE[pool.lb_algorithm],
        timeout_connect=_int(listener.timeout_member_connect,
                             f"{lwhere}.timeout_member_connect", 0, 86400000),
        timeout_server=_int(listener.timeout_member_data, f"{lwhere}.timeout_member_data",
                            0, 86400000),
        lines=tuple(lines),
        servers=tuple(servers),
    )


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tricircle_lb.loadbalancer.amphora", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # not HTML: values are quoted by this module instead
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("haproxy.cfg.j2")


def haproxy_listeners(config: LoadBalancerConfig) -> list[Listener]:
    """The listeners HAProxy serves (UDP and SCTP are another program's)."""
    return [li for li in config.listeners if li.protocol not in NOT_HAPROXY]


def _used_pools(listener: Listener) -> list[str]:
    ids = [listener.default_pool_id] if listener.default_pool_id else []
    ids += [p.redirect_pool_id for p in sorted(listener.l7policies, key=lambda p: p.position)
            if p.action == "REDIRECT_TO_POOL" and p.rules and p.redirect_pool_id]
    return list(dict.fromkeys(ids))


def render(
    config: LoadBalancerConfig,
    *,
    stats_socket: Path,
    pid_file: Path,
    open_files_limit: int,
    cert_dir: Path | None = None,
    log_targets: LogTargets = NO_LOG_TARGETS,
) -> str:
    """The HAProxy configuration for ``config``; raises :class:`ConfigRenderError`.

    ``cert_dir``: where the agent writes the PEM files and crt-lists the TLS
    fields name (:mod:`.tls_config`); needed only with TLS. ``log_targets``: where
    logs are offloaded (:mod:`.log_config`)."""
    lb_id = _id(config.id, "loadbalancer.id")
    pools = {_id(p.id, "pools[].id"): p for p in config.pools}
    listener_ids = [_id(li.id, "listeners[].id") for li in config.listeners]
    if len(set(listener_ids)) != len(listener_ids):
        raise ConfigRenderError("listeners: duplicate id")
    maxconn = global_maxconn(
        open_files_limit,
        listeners=len(config.listeners),
        servers=sum(len(p.members) for p in config.pools) * max(1, len(config.listeners)),
    )
    pem_names = {_id(f.name, "certificates[].name") for f in config.certificates}
    frontends: list[_Frontend] = []
    backends: list[_Backend] = []
    for listener in haproxy_listeners(config):
        backend_of: dict[str, str] = {}
        for pool_id in _used_pools(listener):
            if pool_id not in pools:
                raise ConfigRenderError(f"listeners[{listener.id}]: unknown pool {pool_id!r}")
            backend_of[pool_id] = f"{pool_id}:{listener.id}"
        frontend = _frontend(listener, config.vip_address, maxconn, backend_of,
                             cert_dir, pem_names)
        flow_log = _log_lines(log_config.frontend_lines, log_targets.tenant,
                              config.project_id, lb_id, frontend.name)
        frontends.append(dataclasses.replace(frontend, lines=(*frontend.lines, *flow_log)))
        backends += [_backend(pools[p], listener, name, cert_dir, pem_names)
                     for p, name in backend_of.items()]
    return _template().render(
        lb_id=lb_id,
        maxconn=maxconn,
        pid_file=quote(_printable(str(pid_file), "pid_file", 1024)),
        stats_socket=quote(_printable(str(stats_socket), "stats_socket", 107)),
        frontends=frontends,
        backends=backends,
        global_lines=_log_lines(log_config.global_lines, log_targets.admin),
    )


def _log_lines(lines: Callable[..., list[str]], *args: Any) -> list[str]:
    try:
        return lines(*args)
    except ValueError as exc:
        raise ConfigRenderError(f"log targets: {exc}") from None


__all__: Sequence[str] = ["ConfigRenderError", "global_maxconn", "haproxy_listeners", "quote",
                          "render"]
