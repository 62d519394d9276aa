"""The amphora agent's HTTP API (docs/decisions/070-amphora-agent-api.md).

=======  ==============  ==========================================================
GET      /info           ``{"amphora_id", "api_version", "haproxy_version", "hostname",
                         "vrrp_state"}`` (MASTER, BACKUP, FAULT or null)
POST     /plug/vip       ``{"vip", "prefixlen", "mac", "address"?}`` → ``{"interface"}``;
                         ``"address": false`` (ACTIVE_STANDBY): keepalived holds the VIP
POST     /plug/network   ``{"mac"}`` → ``{"interface"}``
PUT      /config         codec JSON of a LoadBalancerConfig → ``{"listeners": [ids]}``;
                         its PEM files sealed with the amphora's key (decision 085)
DELETE   /config         stop HAProxy → ``{}``
PUT      /vrrp           ``{"vip", "prefixlen", "mac", "vrrp_ip", "peers", "priority",
                         "vrid", "advert_int"?, "auth_pass", "preempt"?}`` →
                         ``{"interface"}``
DELETE   /vrrp           stop keepalived → ``{}``
=======  ==============  ==========================================================

Every request and response is signed (:mod:`.auth`); a bad, stale or replayed
request gets 401. Errors are ``{"error": "..."}``: 400 for a request the agent
refuses (the same request would be refused again), 504 when a plugged port
does not show up in time, 500 when HAProxy or keepalived fails. Changes to
HAProxy and keepalived run one at a time.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tricircle_lb.loadbalancer.amphora import codec, sealing
from tricircle_lb.loadbalancer.amphora.agent import auth, interfaces
from tricircle_lb.loadbalancer.amphora.agent.config import AmphoraAgentConfig
from tricircle_lb.loadbalancer.amphora.agent.haproxy import HAProxy, HAProxyFailed, InvalidConfig
from tricircle_lb.loadbalancer.amphora.agent.keepalived import (
    InvalidVrrp,
    Keepalived,
    KeepalivedFailed,
    VrrpConfig,
)
from tricircle_lb.loadbalancer.amphora.agent.udp import InvalidUdpConfig, UdpProxy, UdpProxyFailed
from tricircle_lb.loadbalancer.amphora.udp_config import split

LOG = logging.getLogger(__name__)

API_VERSION = "1.0"
MAX_BODY = codec.MAX_BYTES
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request
MAX_CONNECTIONS = 16  # served at once; the controller needs a handful
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
Body = dict[str, Any]


class Refused(Exception):
    """A request the agent will not carry out (400)."""


class AmphoraApi:
    """What the endpoints do, without HTTP."""

    def __init__(self, config: AmphoraAgentConfig, haproxy: HAProxy,
                 keepalived: Keepalived | None = None, udp: UdpProxy | None = None) -> None:
        self.config = config
        self.haproxy = haproxy
        # UDP listeners are nginx's (decision 087).
        self.udp = udp or UdpProxy(config.nginx_binary, haproxy.config_file.parent)
        self.keepalived = keepalived or Keepalived(
            config.keepalived_binary, haproxy.config_file.parent, haproxy)
        self._haproxy_version = haproxy.version()
        self._changes = threading.Lock()

    def info(self, _body: Body) -> Body:
        return {"amphora_id": self.config.amphora_id, "api_version": API_VERSION,
                "haproxy_version": self._haproxy_version, "hostname": socket.gethostname(),
                "vrrp_state": self.keepalived.state()}

    def plug_vip(self, body: Body) -> Body:
        _only(body, {"vip", "prefixlen", "mac", "address"})
        vip, prefixlen, mac = body.get("vip"), body.get("prefixlen"), body.get("mac")
        address = body.get("address", True)
        if not isinstance(vip, str) or isinstance(prefixlen, bool) \
                or not isinstance(prefixlen, int) or not isinstance(address, bool):
            raise Refused("vip must be a string, prefixlen an integer, address a boolean")
        try:
            ip = ipaddress.ip_interface(f"{vip}/{prefixlen}")
        except ValueError:
            raise Refused("vip and prefixlen must be an IP address and its prefix length") \
                from None
        iface = interfaces.wait_for(_mac(mac), self.config.plug_timeout)
        if not address:
            interfaces.allow_nonlocal_bind()
            LOG.info("VIP %s on %s is keepalived's to hold", ip, iface.name)
            return {"interface": iface.name}
        interfaces.add_vip(iface, str(ip.ip), prefixlen)
        interfaces.gratuitous_arp(iface, str(ip.ip))
        LOG.info("VIP %s on %s", ip, iface.name)
        return {"interface": iface.name}

    def plug_network(self, body: Body) -> Body:
        _only(body, {"mac"})
        iface = interfaces.wait_for(_mac(body.get("mac")), self.config.plug_timeout,
                                    with_addresses=True)
        return {"interface": iface.name}

    def put_config(self, body: Body) -> Body:
        try:
            config = sealing.unseal_config(self.config.key, codec.from_dict(body))
        except (codec.CodecError, sealing.SealError) as exc:
            raise Refused(str(exc)) from None
        with self._changes:
            tcp, udp = split(config)
            try:
                self.udp.check(udp)  # before HAProxy changes: all or nothing is refused
                self.haproxy.apply(tcp)
                self.udp.apply(udp)
            except (InvalidConfig, InvalidUdpConfig) as exc:
                raise Refused(str(exc)) from None
        return {"listeners": [li.id for li in config.listeners]}

    def delete_config(self, _body: Body) -> Body:
        with self._changes:
            self.haproxy.stop()
            self.udp.stop()
        return {}

    def put_vrrp(self, body: Body) -> Body:
        _only(body, set(_VRRP_KEYS) | {"mac", "advert_int", "preempt"})
        missing = sorted(k for k in (*_VRRP_KEYS, "mac") if k not in body)
        if missing:
            raise Refused(f"missing key(s) {', '.join(missing)}")
        peers = body["peers"]
        if not isinstance(peers, list) or not all(isinstance(p, str) for p in peers):
            raise Refused("peers must be a list of addresses")
        if not all(isinstance(body[k], str) for k in ("vip", "vrrp_ip")):
            raise Refused("vip and vrrp_ip must be strings")
        mac = _mac(body["mac"])
        # The VRRP port's own address must be there before keepalived sends from it.
        iface = interfaces.wait_for(mac, self.config.plug_timeout, with_addresses=True)
        try:
            vrrp = VrrpConfig(
                interface=iface.name, vip=body["vip"], prefixlen=body["prefixlen"],
                vrrp_ip=body["vrrp_ip"], peers=tuple(peers), priority=body["priority"],
                vrid=body["vrid"], advert_int=body.get("advert_int", 1),
                auth_pass=body["auth_pass"], preempt=body.get("preempt", False))
            with self._changes:
                interfaces.allow_nonlocal_bind()
                self.keepalived.apply(vrrp)
        except InvalidVrrp as exc:
            raise Refused(str(exc)) from None
        LOG.info("VRRP: vrid %d priority %d%s on %s, peers %s", vrrp.vrid, vrrp.priority,
                 " (preempting)" if vrrp.preempt else "", iface.name, ", ".join(vrrp.peers))
        return {"interface": iface.name}

    def delete_vrrp(self, _body: Body) -> Body:
        with self._changes:
            self.keepalived.stop()
        return {}


_VRRP_KEYS = ("vip", "prefixlen", "vrrp_ip", "peers", "priority", "vrid", "auth_pass")


_MAC_CHARS = frozenset("0123456789abcdef:")


def _mac(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 17 or not set(value.lower()) <= _MAC_CHARS:
        raise Refused("mac must look like fa:16:3e:00:00:01")
    return value.lower()


def _only(body: Body, keys: set[str]) -> None:
    unknown = sorted(set(body) - keys)
    if unknown:
        raise Refused(f"unknown key(s) {', '.join(unknown)}")


Route = Callable[[AmphoraApi, Body], Body]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/info"): AmphoraApi.info,
    ("POST", "/plug/vip"): AmphoraApi.plug_vip,
    ("POST", "/plug/network"): AmphoraApi.plug_network,
    ("PUT", "/config"): AmphoraApi.put_config,
    ("DELETE", "/config"): AmphoraApi.delete_config,
    ("PUT", "/vrrp"): AmphoraApi.put_vrrp,
    ("DELETE", "/vrrp"): AmphoraApi.delete_vrrp,
}


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        LOG.info("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        key = self.server.api.config.key
        signature = self.headers.get(auth.SIGNATURE_HEADER) or ""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._reply(400, {"error": "missing or too large Content-Length"}, signature)
            return
        raw = self.rfile.read(length)
        timestamp = self.headers.get(auth.TIMESTAMP_HEADER)
        try:
            auth.check_fresh(timestamp)
            auth.check(auth.sign_request(key, self.command, self.path, timestamp or "", raw),
                       signature)
            self.server.replays.check_and_add(signature)
        except auth.SignatureError as exc:
            LOG.warning("refused %s %s from %s: %s", self.command, self.path,
                        self.client_address[0], exc)
            self._reply(401, {"error": str(exc)}, signature)
            return
        route = ROUTES.get((self.command, self.path))
        if route is None:
            self._reply(404, {"error": f"no {self.command} {self.path}"}, signature)
            return
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise Refused("the body must be a JSON object")
            self._reply(200, route(self.server.api, body), signature)
        except (ValueError, Refused) as exc:
            self._reply(400, {"error": str(exc)}, signature)
        except interfaces.InterfaceTimeout as exc:
            self._reply(504, {"error": str(exc)}, signature)
        except Exception as exc:
            if not isinstance(exc, (HAProxyFailed, KeepalivedFailed, UdpProxyFailed)):
                LOG.exception("%s %s failed", self.command, self.path)
            self._reply(500, {"error": f"{type(exc).__name__}: {exc}"}, signature)

    def _reply(self, status: int, body: Body, request_signature: str) -> None:
        data = json.dumps(body).encode()
        timestamp = auth.now()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header(auth.TIMESTAMP_HEADER, timestamp)
        self.send_header(auth.SIGNATURE_HEADER, auth.sign_response(
            self.server.api.config.key, status, self.command, self.path, timestamp,
            request_signature, data))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


class AgentServer(ThreadingHTTPServer):
    """The agent's API, on the management address only (the amphora's VIP and member
    networks carry tenants' traffic): a client that sends too slowly is dropped after
    ``request_timeout`` and at most ``max_connections`` are served at once (the rest
    are closed at once), so no tenant can tie the agent up."""

    daemon_threads = True

    def __init__(self, api: AmphoraApi, address: str, port: int,
                 request_timeout: float = REQUEST_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.api = api
        self.replays = auth.ReplayCache()
        self.request_timeout = request_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, port), _Handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            # "::" is every address, IPv4 ones included.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # The management address may not be on eth0 yet when the amphora boots (its
        # host agent plugs it): bind to it anyway, it answers once it is there.
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            LOG.warning("refusing a connection from %s: %d requests already running",
                        client_address[0], MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        request.settimeout(self.request_timeout)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def make_server(api: AmphoraApi, address: str, port: int,
                request_timeout: float = REQUEST_TIMEOUT) -> AgentServer:
    """Listen on ``address`` (``::`` falls back to ``0.0.0.0`` without IPv6)."""
    try:
        return AgentServer(api, address, port, request_timeout)
    except OSError:
        if address != "::":
            raise
        return AgentServer(api, "0.0.0.0", port, request_timeout)
