"""HAProxy ``show stat`` CSV → typed statistics → heartbeat message.

Naming convention of the amphora's HAProxy configuration: a frontend is named by
its listener id, a backend by its pool id (Octavia's ``<pool id>:<listener id>``
is accepted too, and ties the pool to that listener), and a server by its member
id. Proxies whose name starts with ``_`` are internal (stats, exporters) and left
out of heartbeats.
"""

from __future__ import annotations

import csv
import socket
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from tricircle_lb.loadbalancer.health.heartbeat import (
    Heartbeat,
    ListenerStats,
    ListenerStatus,
    PoolStatus,
)

TYPE_FRONTEND: Final = 0
TYPE_BACKEND: Final = 1
TYPE_SERVER: Final = 2


class StatsParseError(ValueError):
    """The text is not HAProxy's ``show stat`` CSV."""


class ServerStatus(StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    MAINT = "MAINT"
    DRAIN = "DRAIN"
    NO_CHECK = "NO_CHECK"

    @property
    def wire(self) -> str:
        """The member status as Octavia's heartbeat spells it."""
        return "no check" if self is ServerStatus.NO_CHECK else self.value


def map_server_status(raw: str, weight: int | None = None) -> ServerStatus:
    """Map HAProxy's server ``status`` column to a :class:`ServerStatus`.

    ``UP``, ``UP 1/3`` (going down) → UP; ``DOWN``, ``DOWN 1/2`` (going up) → DOWN;
    ``MAINT``, ``MAINT (via …)``, ``MAINT (resolution)`` → MAINT; ``DRAIN``,
    ``DRAIN (agent)``, ``NOLB`` → DRAIN; ``no check`` → NO_CHECK. A server with
    weight 0 that is otherwise up or unchecked is draining (Octavia: weight 0 drains).
    Anything unknown is reported DOWN.
    """
    s = raw.strip()
    upper = s.upper()
    if upper.startswith("MAINT"):
        return ServerStatus.MAINT
    if upper.startswith("DRAIN") or upper.startswith("NOLB"):
        return ServerStatus.DRAIN
    if upper.startswith("UP"):
        return ServerStatus.DRAIN if weight == 0 else ServerStatus.UP
    if s.lower() == "no check":
        return ServerStatus.DRAIN if weight == 0 else ServerStatus.NO_CHECK
    return ServerStatus.DOWN


@dataclass(frozen=True)
class FrontendStats:
    name: str
    status: str
    scur: int
    stot: int
    bin: int
    bout: int
    ereq: int


@dataclass(frozen=True)
class ServerStats:
    name: str
    backend: str
    status: ServerStatus
    raw_status: str
    weight: int | None
    scur: int
    stot: int
    bin: int
    bout: int


@dataclass(frozen=True)
class BackendStats:
    name: str
    status: str
    scur: int
    stot: int
    bin: int
    bout: int
    servers: dict[str, ServerStats] = field(default_factory=dict)


@dataclass(frozen=True)
class HAProxyStats:
    frontends: dict[str, FrontendStats]
    backends: dict[str, BackendStats]


def _int(row: dict[str, str], col: str) -> int:
    value = (row.get(col) or "").strip()
    try:
        return int(value) if value else 0
    except ValueError:
        raise StatsParseError(f"{row.get('pxname')}/{row.get('svname')}: {col}={value!r}") from None


def parse_stats(csv_text: str) -> HAProxyStats:
    """Parse ``show stat`` output (header ``# pxname,svname,...``); listener rows ignored."""
    lines = csv_text.splitlines()
    if not lines or not lines[0].startswith("# pxname,svname,"):
        raise StatsParseError("missing '# pxname,svname,...' header")
    header = lines[0][2:].split(",")
    for col in ("status", "scur", "stot", "bin", "bout", "type"):
        if col not in header:
            raise StatsParseError(f"missing column {col!r}")
    frontends: dict[str, FrontendStats] = {}
    backends: dict[str, BackendStats] = {}
    servers: list[ServerStats] = []
    for values in csv.reader(line for line in lines[1:] if line.strip()):
        row = dict(zip(header, values, strict=False))
        kind = _int(row, "type")
        px, sv = row["pxname"], row["svname"]
        if kind == TYPE_FRONTEND:
            frontends[px] = FrontendStats(
                px, row["status"], _int(row, "scur"), _int(row, "stot"),
                _int(row, "bin"), _int(row, "bout"), _int(row, "ereq"),
            )
        elif kind == TYPE_BACKEND:
            backends[px] = BackendStats(
                px, row["status"], _int(row, "scur"), _int(row, "stot"),
                _int(row, "bin"), _int(row, "bout"),
            )
        elif kind == TYPE_SERVER:
            weight = _int(row, "weight") if (row.get("weight") or "").strip() else None
            servers.append(ServerStats(
                sv, px, map_server_status(row["status"], weight), row["status"], weight,
                _int(row, "scur"), _int(row, "stot"), _int(row, "bin"), _int(row, "bout"),
            ))
    for server in servers:
        backend = backends.get(server.backend)
        if backend is None:
            backend = backends[server.backend] = BackendStats(server.backend, "DOWN", 0, 0, 0, 0)
        backend.servers[server.name] = server
    return HAProxyStats(frontends, backends)


def read_stats(socket_path: str, timeout: float = 5.0) -> str:
    """Ask HAProxy's stats socket for ``show stat`` and return the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(b"show stat\n")
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def build_message(amphora_id: str, seq: int, csv_text: str) -> Heartbeat:
    """A heartbeat from ``show stat`` output, by the naming convention of this module."""
    stats = parse_stats(csv_text)
    listener_pools: dict[str, list[str]] = {}
    pools: dict[str, PoolStatus] = {}
    for name, backend in stats.backends.items():
        if name.startswith("_"):
            continue
        pool_id, _, listener_id = name.partition(":")
        if listener_id:
            listener_pools.setdefault(listener_id, []).append(pool_id)
        pools[pool_id] = PoolStatus(
            status=backend.status,
            members={sid: s.status.wire for sid, s in backend.servers.items()},
        )
    listeners = {
        name: ListenerStatus(
            status=fe.status,
            stats=ListenerStats(
                conns=fe.scur, totconns=fe.stot, rx=fe.bin, tx=fe.bout, ereq=fe.ereq
            ),
            pools=tuple(listener_pools.get(name, ())),
        )
        for name, fe in stats.frontends.items()
        if not name.startswith("_")
    }
    return Heartbeat(amphora_id=amphora_id, seq=seq, listeners=listeners, pools=pools)
