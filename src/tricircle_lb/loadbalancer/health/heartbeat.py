"""Amphora → health manager heartbeats: the wire format, a UDP sender and a receiver.

Wire format (as Octavia's ``status_message.wrap_envelope``)::

    zlib.compress(json) || hex(HMAC-SHA256(key, zlib.compress(json)))

The trailing 64 ASCII hex characters authenticate the compressed payload with the
sending amphora's key (Octavia's is per deployment, ``[health_manager]
heartbeat_key``; ours per amphora, decision 076); a ``str`` key is used as its UTF-8
bytes, as Octavia does. The JSON body uses Octavia's field names::

    {"ver": 1, "id": "<amphora id>", "seq": 67,
     "listeners": {"<listener id>": {"status": "OPEN",
                                     "stats": {"conns": 0, "totconns": 0, "rx": 0,
                                               "tx": 0, "ereq": 0},
                                     "pools": ["<pool id>"]}},
     "pools": {"<pool id>": {"status": "UP",
                             "members": {"<member id>": "UP"}}}}

Listener counters are absolute values since HAProxy started (the receiver computes
deltas and notices resets). ``recv_time`` is never taken from the wire: the
receiver stamps it.

Errors: every way a packet can be wrong (too large, bad HMAC, bad zlib, bad JSON,
missing or mistyped fields, an amphora nobody knows) raises :class:`InvalidHeartbeat`,
whose ``reason`` names the failure. With one key for every sender the HMAC is checked,
in constant time, before anything is decompressed. With a key per amphora (a
:data:`KeyLookup`) the key depends on the ``id`` the packet claims, so the body is
inflated first (bounded by :data:`MAX_JSON_SIZE`), and nothing but that ``id`` is
read from it before the HMAC under that amphora's key has matched.

Replay protection (:class:`ReplayGuard`, used by :class:`HeartbeatReceiver`): per
amphora the last accepted ``seq`` is kept and a heartbeat whose ``seq`` is not greater
is dropped. An amphora agent that restarts counts from 0 again; so a ``seq`` of 0 or 1
is accepted when nothing was heard from that amphora for longer than
``restart_gap`` seconds (a restarted agent is silent for at least that long, while a
replayed old packet arriving between live heartbeats is still dropped).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

LOG = logging.getLogger(__name__)

MSG_VERSION: Final = 1
MAX_PACKET_SIZE: Final = 64 * 1024
MAX_JSON_SIZE: Final = 1024 * 1024
HMAC_HEX_LEN: Final = 64
MEMBER_STATUSES: Final = frozenset({"UP", "DOWN", "MAINT", "DRAIN", "no check"})
DEFAULT_RESTART_GAP: Final = 10.0

KeyLookup: TypeAlias = Callable[[str], "str | bytes | None"]
"""The key of the amphora with this id, or None if there is no such amphora."""


class InvalidHeartbeat(ValueError):
    """A heartbeat that cannot be trusted or understood; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ListenerStats:
    """A listener's counters (absolute since HAProxy started, except ``conns``)."""

    conns: int = 0
    totconns: int = 0
    rx: int = 0
    tx: int = 0
    ereq: int = 0


@dataclass(frozen=True)
class ListenerStatus:
    status: str
    stats: ListenerStats = field(default_factory=ListenerStats)
    pools: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoolStatus:
    status: str
    members: Mapping[str, str] = field(default_factory=dict)
    """Member id → one of :data:`MEMBER_STATUSES`."""


@dataclass(frozen=True)
class Heartbeat:
    amphora_id: str
    seq: int
    listeners: Mapping[str, ListenerStatus] = field(default_factory=dict)
    pools: Mapping[str, PoolStatus] = field(default_factory=dict)
    version: int = MSG_VERSION
    recv_time: float | None = None
    """Set by the receiver (``time.time()`` on arrival); never sent."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON body sent on the wire (no ``recv_time``)."""
        return {
            "ver": self.version,
            "id": self.amphora_id,
            "seq": self.seq,
            "listeners": {
                lid: {
                    "status": ls.status,
                    "stats": {
                        "conns": ls.stats.conns,
                        "totconns": ls.stats.totconns,
                        "rx": ls.stats.rx,
                        "tx": ls.stats.tx,
                        "ereq": ls.stats.ereq,
                    },
                    "pools": list(ls.pools),
                }
                for lid, ls in self.listeners.items()
            },
            "pools": {
                pid: {"status": p.status, "members": dict(p.members)}
                for pid, p in self.pools.items()
            },
        }

    @classmethod
    def from_dict(cls, body: Any, recv_time: float | None = None) -> Heartbeat:
        """Validate a decoded JSON body; raise :class:`InvalidHeartbeat` if malformed."""
        obj = _mapping(body, "body")
        listeners: dict[str, ListenerStatus] = {}
        for lid, raw in _mapping(obj.get("listeners", {}), "listeners").items():
            lst = _mapping(raw, f"listener {lid}")
            st = _mapping(lst.get("stats", {}), f"listener {lid} stats")
            listeners[lid] = ListenerStatus(
                status=_str(lst.get("status"), f"listener {lid} status"),
                stats=ListenerStats(
                    **{k: _int(st.get(k, 0), f"listener {lid} {k}") for k in _STAT_KEYS}
                ),
                pools=tuple(
                    _str(p, f"listener {lid} pool") for p in _list(lst.get("pools", []))
                ),
            )
        pools: dict[str, PoolStatus] = {}
        for pid, raw in _mapping(obj.get("pools", {}), "pools").items():
            pool = _mapping(raw, f"pool {pid}")
            members: dict[str, str] = {}
            for mid, mstatus in _mapping(pool.get("members", {}), f"pool {pid} members").items():
                if mstatus not in MEMBER_STATUSES:
                    raise InvalidHeartbeat(f"member {mid}: unknown status {mstatus!r}")
                members[mid] = mstatus
            pools[pid] = PoolStatus(
                status=_str(pool.get("status"), f"pool {pid} status"), members=members
            )
        seq = _int(obj.get("seq"), "seq")
        if seq < 0:
            raise InvalidHeartbeat("seq: negative")
        return cls(
            amphora_id=_str(obj.get("id"), "id"),
            seq=seq,
            listeners=listeners,
            pools=pools,
            version=_int(obj.get("ver"), "ver"),
            recv_time=recv_time,
        )


_STAT_KEYS: Final = ("conns", "totconns", "rx", "tx", "ereq")


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidHeartbeat(f"{what}: expected an object")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidHeartbeat("pools: expected a list")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidHeartbeat(f"{what}: missing or not a string")
    return value


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidHeartbeat(f"{what}: missing or not an integer")
    return value


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


def _mac(payload: bytes, key: str | bytes) -> bytes:
    return hmac.new(_key_bytes(key), payload, hashlib.sha256).hexdigest().encode("ascii")


def encode(message: Heartbeat | Mapping[str, Any], key: str | bytes) -> bytes:
    """Serialize, compress and sign a heartbeat; a mapping is validated first.

    Raises :class:`InvalidHeartbeat` for a malformed mapping or a result larger than
    :data:`MAX_PACKET_SIZE`.
    """
    hb = message if isinstance(message, Heartbeat) else Heartbeat.from_dict(dict(message))
    body = json.dumps(hb.to_dict(), separators=(",", ":")).encode("utf-8")
    payload = zlib.compress(body, 9)
    data = payload + _mac(payload, key)
    if len(data) > MAX_PACKET_SIZE:
        raise InvalidHeartbeat(f"too large: {len(data)} bytes > {MAX_PACKET_SIZE}")
    return data


def decode(data: bytes, key: str | bytes | KeyLookup, *,
           recv_time: float | None = None) -> Heartbeat:
    """Verify and parse one packet; raise :class:`InvalidHeartbeat` on any defect.

    ``key`` is the one key of every sender, or a :data:`KeyLookup` from the amphora id
    the packet claims to its key: a packet is then verified with the key of the
    amphora it names, so one amphora cannot speak for another."""
    if len(data) > MAX_PACKET_SIZE:
        raise InvalidHeartbeat(f"too large: {len(data)} bytes > {MAX_PACKET_SIZE}")
    if len(data) <= HMAC_HEX_LEN:
        raise InvalidHeartbeat("too short")
    payload, mac = data[:-HMAC_HEX_LEN], data[-HMAC_HEX_LEN:]
    if not callable(key):
        _verify(payload, mac, key)
        return Heartbeat.from_dict(_inflate(payload), recv_time=recv_time)
    obj = _inflate(payload)
    claimed = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(claimed, str) or not claimed:
        raise InvalidHeartbeat("id: missing or not a string")
    own = key(claimed)
    if own is None:
        raise InvalidHeartbeat(f"unknown amphora {claimed[:64]!r}")
    _verify(payload, mac, own)
    return Heartbeat.from_dict(obj, recv_time=recv_time)


def _verify(payload: bytes, mac: bytes, key: str | bytes) -> None:
    if not hmac.compare_digest(mac, _mac(payload, key)):
        raise InvalidHeartbeat("bad HMAC")


def _inflate(payload: bytes) -> Any:
    """The JSON value of a compressed body (not yet trusted)."""
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(payload, MAX_JSON_SIZE)
    except zlib.error as e:
        raise InvalidHeartbeat(f"bad zlib data: {e}") from None
    if inflater.unconsumed_tail:
        raise InvalidHeartbeat(f"too large: body > {MAX_JSON_SIZE} bytes")
    if not inflater.eof or inflater.unused_data:
        raise InvalidHeartbeat("bad zlib data: truncated or trailing bytes")
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidHeartbeat(f"bad JSON: {e}") from None
    return obj


class ReplayGuard:
    """Per-amphora monotonic ``seq`` check (see the module docstring for restarts)."""

    def __init__(self, restart_gap: float = DEFAULT_RESTART_GAP) -> None:
        self.restart_gap = restart_gap
        self._last: dict[str, tuple[int, float]] = {}

    def accept(self, amphora_id: str, seq: int, now: float) -> bool:
        """Record and return True if ``seq`` is new for ``amphora_id``; else False."""
        last = self._last.get(amphora_id)
        if last is not None:
            last_seq, last_time = last
            restarted = seq <= 1 and now - last_time > self.restart_gap
            if seq <= last_seq and not restarted:
                return False
        self._last[amphora_id] = (seq, now)
        return True

    def forget(self, amphora_id: str) -> None:
        """Drop the state of an amphora (deleted or failed over)."""
        self._last.pop(amphora_id, None)


def _udp_socket(host: str, port: int) -> tuple[socket.socket, Any]:
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
    return socket.socket(family, socket.SOCK_DGRAM), sockaddr


class HeartbeatSender:
    """Sends signed heartbeats to one health manager address over UDP."""

    def __init__(self, address: str, port: int, key: str | bytes) -> None:
        self._key = key
        self._sock, self._dest = _udp_socket(address, port)

    def send(self, message: Heartbeat | Mapping[str, Any]) -> None:
        self._sock.sendto(encode(message, self._key), self._dest)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> HeartbeatSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ReceiverCounters:
    received: int = 0
    accepted: int = 0
    invalid: int = 0
    replayed: int = 0
    callback_errors: int = 0


OnHeartbeat = Callable[[Heartbeat, str], None]
"""Called in the receiver's thread with the heartbeat and the sender's IP address."""


class HeartbeatReceiver:
    """Receives heartbeats on a UDP port in a thread and hands valid ones to a callback.

    Invalid packets (see :func:`decode`) and replays are dropped and counted in
    ``counters``; an exception from the callback is logged and counted. Neither stops
    the thread. ``port=0`` binds a free port; ``address`` gives the bound one.
    """

    def __init__(
        self,
        bind_address: str,
        port: int,
        key: str | bytes | KeyLookup,
        on_heartbeat: OnHeartbeat,
        *,
        restart_gap: float = DEFAULT_RESTART_GAP,
        poll_interval: float = 0.2,
    ) -> None:
        self._bind = (bind_address, port)
        self._key = key
        self._on_heartbeat = on_heartbeat
        self._poll_interval = poll_interval
        self.replay_guard = ReplayGuard(restart_gap)
        self.counters = ReceiverCounters()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        if self._sock is None:
            raise RuntimeError("receiver not started")
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("receiver already started")
        sock, sockaddr = _udp_socket(*self._bind)
        try:
            sock.bind(sockaddr)
        except OSError:
            sock.close()
            raise
        sock.settimeout(self._poll_interval)
        self._sock = sock
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-receiver-{self.address[1]}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> HeartbeatReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stopping.is_set():
            try:
                data, src = sock.recvfrom(MAX_PACKET_SIZE + 1)
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                LOG.exception("heartbeat socket error")
                time.sleep(self._poll_interval)
                continue
            self.handle_packet(data, str(src[0]))

    def handle_packet(self, data: bytes, sender: str) -> bool:
        """Process one datagram; True if it was delivered to the callback."""
        self.counters.received += 1
        now = time.time()
        try:
            hb = decode(data, self._key, recv_time=now)
        except InvalidHeartbeat as e:
            self.counters.invalid += 1
            LOG.warning("dropping heartbeat from %s: %s", sender, e.reason)
            return False
        if not self.replay_guard.accept(hb.amphora_id, hb.seq, time.monotonic()):
            self.counters.replayed += 1
            LOG.warning("dropping replayed heartbeat %s seq %d from %s",
                        hb.amphora_id, hb.seq, sender)
            return False
        self.counters.accepted += 1
        try:
            self._on_heartbeat(hb, sender)
        except Exception:
            self.counters.callback_errors += 1
            LOG.exception("heartbeat callback failed for amphora %s", hb.amphora_id)
        return True
