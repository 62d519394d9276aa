"""The controller's client for the amphora agent API (docs/decisions/070).

Requests go over the management network from the controller's namespace
(``namespace``; ``""`` is the caller's own), signed and verified with the key of
the amphora called (:mod:`tricircle_lb.loadbalancer.amphora.agent.auth`): each
amphora has its own (decision 076), so the controller calls it through
``client.with_key(key)``; an agent refuses a request signed with another's.

Errors::

    AmphoraError                 anything that went wrong talking to an amphora
    ├── AmphoraUnreachable       no connection, timeout, 502/503/504: retry later
    ├── AmphoraRefused           4xx: the amphora will refuse it again (e.g. invalid config)
    └── AmphoraAuthError         401, or a response whose signature does not verify

Every call is idempotent on the agent's side, so a caller may simply retry
after :class:`AmphoraUnreachable`.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
from typing import Any

from tricircle_lb.dataplane.errors import NamespaceNotFound
from tricircle_lb.dataplane.netns_socket import socket_in
from tricircle_lb.loadbalancer.amphora import codec, sealing
from tricircle_lb.loadbalancer.amphora.agent import auth
from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig

Body = dict[str, Any]
RETRYABLE_STATUSES = frozenset({502, 503, 504})


class AmphoraError(Exception):
    """Talking to an amphora agent failed."""


class AmphoraUnreachable(AmphoraError):
    """No answer (connection refused or reset, timeout) or a transient 5xx: retry."""


class AmphoraRefused(AmphoraError):
    """The agent refused the request (4xx); ``status`` and the agent's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AmphoraAuthError(AmphoraError):
    """401 from the agent, or an answer not signed with our key."""


class _Connection(http.client.HTTPConnection):
    """An HTTP connection whose socket is made in a given network namespace."""

    def __init__(self, namespace: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._namespace = namespace

    def connect(self) -> None:
        family = socket.AF_INET6 if ipaddress.ip_address(self.host).version == 6 \
            else socket.AF_INET
        sock = socket_in(self._namespace, family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class AmphoraClient:
    def __init__(self, namespace: str, key: bytes, port: int = 9443,
                 timeout: float = 10.0) -> None:
        self.namespace = namespace
        self.key = key
        self.port = port
        self.timeout = timeout

    def with_timeout(self, timeout: float) -> AmphoraClient:
        """The same client with another timeout (short ones to poll a booting amphora)."""
        return AmphoraClient(self.namespace, self.key, self.port, timeout)

    def with_key(self, key: bytes) -> AmphoraClient:
        """The same client signing with ``key`` (the amphora's own, decision 076)."""
        return AmphoraClient(self.namespace, key, self.port, self.timeout)

    # -- the API --------------------------------------------------------------------

    def info(self, ip: str) -> Body:
        """``amphora_id``, ``api_version``, ``haproxy_version``, ``hostname`` and
        ``vrrp_state`` (MASTER, BACKUP, FAULT, or None without keepalived)."""
        return self._call(ip, "GET", "/info", None)

    def plug_vip(self, ip: str, vip: str, prefixlen: int, mac: str,
                 address: bool = True) -> str:
        """Add the VIP on the interface with ``mac``; the interface's name.

        ``address=False`` (ACTIVE_STANDBY) leaves the VIP to keepalived and only
        lets HAProxy bind it while the amphora does not hold it."""
        body = self._call(ip, "POST", "/plug/vip", {"vip": vip, "prefixlen": prefixlen,
                                                    "mac": mac, "address": address})
        return str(body["interface"])

    def plug_network(self, ip: str, mac: str) -> str:
        """Wait until the port with ``mac`` is plugged and up; the interface's name."""
        return str(self._call(ip, "POST", "/plug/network", {"mac": mac})["interface"])

    def put_config(self, ip: str, config: LoadBalancerConfig) -> list[str]:
        """Start or reload HAProxy; returns once every listener accepts (listener ids).

        Certificate files travel sealed with this amphora's key (decision 085): the
        agent API is signed, not encrypted, and they hold private keys."""
        body = self._call(ip, "PUT", "/config",
                          codec.to_dict(sealing.seal_config(self.key, config)))
        return [str(x) for x in body["listeners"]]

    def delete_config(self, ip: str) -> None:
        self._call(ip, "DELETE", "/config", None)

    def configure_vrrp(self, ip: str, *, vip: str, prefixlen: int, mac: str, vrrp_ip: str,
                       peers: list[str], priority: int, vrid: int, advert_int: int,
                       auth_pass: str, preempt: bool = False) -> str:
        """Start or reload keepalived on the VRRP port with ``mac``; its interface's name.

        ``vrrp_ip`` is that port's address, ``peers`` the other amphorae's VRRP
        addresses; ``priority`` 100 for MASTER and 90 for BACKUP as in Octavia
        (with nopreempt, so a running MASTER keeps the VIP, unless ``preempt``:
        a hand-over); ``auth_pass`` at most 8 characters, the same on every
        amphora of the load balancer."""
        request = {
            "vip": vip, "prefixlen": prefixlen, "mac": mac, "vrrp_ip": vrrp_ip,
            "peers": list(peers), "priority": priority, "vrid": vrid,
            "advert_int": advert_int, "auth_pass": auth_pass}
        if preempt:  # only then: an amphora with an older agent still takes the rest
            request["preempt"] = True
        body = self._call(ip, "PUT", "/vrrp", request)
        return str(body["interface"])

    def stop_vrrp(self, ip: str) -> None:
        """Stop keepalived (the amphora gives up the VIP if it held it)."""
        self._call(ip, "DELETE", "/vrrp", None)

    # -- transport ------------------------------------------------------------------

    def _call(self, ip: str, method: str, path: str, body: Body | None) -> Body:
        data = json.dumps(body).encode() if body is not None else b""
        timestamp = auth.now()
        signature = auth.sign_request(self.key, method, path, timestamp, data)
        headers = {"Content-Type": "application/json", auth.TIMESTAMP_HEADER: timestamp,
                   auth.SIGNATURE_HEADER: signature, "Content-Length": str(len(data))}
        conn = _Connection(self.namespace, ip, self.port, self.timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            status = response.status
            reply_timestamp = response.getheader(auth.TIMESTAMP_HEADER)
            reply_signature = response.getheader(auth.SIGNATURE_HEADER)
        except NamespaceNotFound as exc:
            raise AmphoraUnreachable(f"{ip}: controller namespace {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise AmphoraUnreachable(f"{ip} port {self.port}: {exc or type(exc).__name__}") \
                from exc
        finally:
            conn.close()
        if status == 401:
            raise AmphoraAuthError(f"{ip}: the agent refused our signature: "
                                   f"{_error(answer)}")
        try:
            auth.check_fresh(reply_timestamp)
            auth.check(auth.sign_response(self.key, status, method, path,
                                          reply_timestamp or "", signature, answer),
                       reply_signature)
        except auth.SignatureError as exc:
            raise AmphoraAuthError(f"{ip}: response to {method} {path}: {exc}") from None
        if status in RETRYABLE_STATUSES:
            raise AmphoraUnreachable(f"{ip}: {status} {_error(answer)}")
        if 400 <= status < 500:
            raise AmphoraRefused(status, _error(answer))
        if status != 200:
            raise AmphoraError(f"{ip}: {method} {path}: {status} {_error(answer)}")
        try:
            reply = json.loads(answer)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise AmphoraError(f"{ip}: {method} {path}: the answer is not a JSON object")
        return reply


def _error(answer: bytes) -> str:
    try:
        body = json.loads(answer)
    except ValueError:
        return answer[:200].decode(errors="replace")
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return str(body)[:200]


__all__ = ["AmphoraAuthError", "AmphoraClient", "AmphoraError", "AmphoraRefused",
           "AmphoraUnreachable"]
