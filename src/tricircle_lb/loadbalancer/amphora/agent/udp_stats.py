"""UDP listeners' statistics: nftables counters in the amphora's namespace (decision 091).

nginx's open-source stream module has no statistics to read, so the kernel
counts. The agent keeps one table, ``inet tcl_udp_stats``, with per listener:

- ``in_<id>``: a named counter of the datagrams to ``VIP:port`` (input hook):
  ``bytes_in``;
- ``out_<id>``: the datagrams from ``VIP:port`` (output hook: nginx's
  answers to clients): ``bytes_out``;
- ``flows_<id>_<ms>``: a dynamic set of ``client address . client port`` that
  each datagram refreshes, its timeout the listener's nginx session timeout
  (:func:`..udp_config.session_timeout_ms`), so its size is the number of
  live sessions: ``active_connections``;
- ``new_<id>``: a counter of the datagrams whose client is not in that set,
  i.e. sessions begun: ``total_connections``.

Bytes are IP packet lengths, as Octavia's IPVS counts them (LVS ``InBytes``,
``OutBytes``). ``request_errors`` stays 0 (LVS has none either).

Nothing here can stop a datagram: the chains accept, the rules only count,
and a full set merely stops growing. No connection tracking is involved (it
would be switched on for every packet of the namespace, and a full conntrack
table drops). A change rewrites the rules in one ``nft -f`` transaction with
``add`` for the counters and sets, which keeps the existing ones and their
values: an nginx reload or another listener does not reset a count. Counters
start again from 0 only when the table goes (no UDP listener left) or the
namespace is new; the health manager treats a decrease as it treats a
restarted HAProxy (decision 072).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tricircle_lb.loadbalancer.health.heartbeat import ListenerStats

LOG = logging.getLogger(__name__)

FAMILY, TABLE = "inet", "tcl_udp_stats"
FLOW_SET_SIZE = 65536
NFT_TIMEOUT = 10.0


class UdpStatsError(RuntimeError):
    """``nft`` failed or answered something else than a table listing."""


@dataclass(frozen=True)
class CountedListener:
    """What the table counts for one UDP listener."""

    id: str  # the udp_config id pattern: [A-Za-z0-9][A-Za-z0-9_-]{0,63}
    port: int
    session_timeout_ms: int

    @property
    def key(self) -> str:
        return self.id.replace("-", "_")  # nft names: letters, digits, underscores

    @property
    def flow_set(self) -> str:
        # The timeout in the name: a set's timeout cannot change in place.
        return f"flows_{self.key}_{self.session_timeout_ms}"

    def counters(self) -> tuple[str, str, str]:
        return f"in_{self.key}", f"out_{self.key}", f"new_{self.key}"


def ruleset(vip: str, listeners: Iterable[CountedListener],
            present: tuple[set[str], set[str]] = (set(), set())) -> str:
    """The ``nft -f`` script that makes the table count ``listeners`` on ``vip``.

    ``present``: the (counters, sets) the table holds now; the ones no longer
    wanted are deleted, the others kept with their values."""
    ip = ipaddress.ip_address(vip)
    l3, addr_type = ("ip", "ipv4_addr") if ip.version == 4 else ("ip6", "ipv6_addr")
    t = f"{FAMILY} {TABLE}"
    lines = [f'add table {t} {{ comment "tcl: UDP listener statistics (amphora agent)"; }}',
             f"add chain {t} input {{ type filter hook input priority filter; policy accept; }}",
             f"add chain {t} output {{ type filter hook output priority filter; policy accept; }}",
             f"flush chain {t} input", f"flush chain {t} output"]
    counters: set[str] = set()
    sets: set[str] = set()
    for li in listeners:
        c_in, c_out, c_new = li.counters()
        counters |= {c_in, c_out, c_new}
        sets.add(li.flow_set)
        lines += [f"add counter {t} {name}" for name in (c_in, c_out, c_new)]
        lines.append(f"add set {t} {li.flow_set} {{ type {addr_type} . inet_service; "
                     f"flags dynamic,timeout; timeout {li.session_timeout_ms}ms; "
                     f"size {FLOW_SET_SIZE}; }}")
        to_vip = f"{l3} daddr {ip} udp dport {li.port}"
        client = f"{l3} saddr . udp sport"
        lines += [f"add rule {t} input {to_vip} counter name {c_in}",
                  f"add rule {t} input {to_vip} {client} != @{li.flow_set} counter name {c_new}",
                  f"add rule {t} input {to_vip} update @{li.flow_set} {{ {client} }}",
                  f"add rule {t} output {l3} saddr {ip} udp sport {li.port} counter name {c_out}"]
    # After the flushes nothing refers to them any more.
    lines += [f"delete counter {t} {name}" for name in sorted(present[0] - counters)]
    lines += [f"delete set {t} {name}" for name in sorted(present[1] - sets)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TableListing:
    """The parts of ``nft -j list table`` this module reads."""

    counters: Mapping[str, tuple[int, int]]  # name → (packets, bytes)
    flows: Mapping[str, int]  # set name → elements

    def stats(self, listeners: Iterable[CountedListener]) -> dict[str, ListenerStats]:
        """Each listener's counters (absolute, as HAProxy's; missing ones read 0)."""
        result = {}
        for li in listeners:
            c_in, c_out, c_new = li.counters()
            result[li.id] = ListenerStats(
                conns=self.flows.get(li.flow_set, 0),
                totconns=self.counters.get(c_new, (0, 0))[0],
                rx=self.counters.get(c_in, (0, 0))[1],
                tx=self.counters.get(c_out, (0, 0))[1])
        return result


def parse_listing(text: str) -> TableListing:
    """Parse ``nft -j list table inet tcl_udp_stats``; raises :class:`UdpStatsError`."""
    try:
        items = json.loads(text)["nftables"]
    except (ValueError, KeyError, TypeError):
        raise UdpStatsError(f"not an nft JSON listing: {text[:200]!r}") from None
    counters: dict[str, tuple[int, int]] = {}
    flows: dict[str, int] = {}
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        counter: Any = item.get("counter")
        nft_set: Any = item.get("set")
        try:
            if isinstance(counter, dict) and counter.get("table") == TABLE:
                counters[str(counter["name"])] = (int(counter["packets"]), int(counter["bytes"]))
            elif isinstance(nft_set, dict) and nft_set.get("table") == TABLE:
                flows[str(nft_set["name"])] = len(nft_set.get("elem") or ())
        except (KeyError, TypeError, ValueError):
            raise UdpStatsError(f"unexpected nft JSON object: {item!r}"[:300]) from None
    return TableListing(counters, flows)


class UdpStats:
    """The table in this process's network namespace, through the OS's ``nft``."""

    def __init__(self, nft: str | None = None) -> None:
        self.nft = nft or shutil.which("nft") or "/usr/sbin/nft"
        self._listeners: tuple[CountedListener, ...] = ()

    def _run(self, *args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self.nft, *args], input=script, capture_output=True,
                                  text=True, timeout=NFT_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UdpStatsError(f"nft {' '.join(args)}: {exc}") from exc

    def listing(self) -> TableListing:
        """What the table counts now (empty when there is no table)."""
        done = self._run("-j", "list", "table", FAMILY, TABLE)
        if done.returncode != 0:
            if "No such file or directory" in done.stderr:
                return TableListing({}, {})
            raise UdpStatsError(f"nft list table: {done.stderr.strip()[:500]}")
        return parse_listing(done.stdout)

    def apply(self, vip: str, listeners: Iterable[CountedListener]) -> None:
        """Count ``listeners`` (none: remove the table); raises :class:`UdpStatsError`."""
        wanted = tuple(listeners)
        if not wanted:
            self.remove()
            return
        now = self.listing()
        done = self._run("-f", "-", script=ruleset(vip, wanted, (set(now.counters),
                                                                  set(now.flows))))
        if done.returncode != 0:
            raise UdpStatsError(f"nft -f: {done.stderr.strip()[:2000]}")
        self._listeners = wanted

    def read(self) -> dict[str, ListenerStats]:
        """Each counted listener's statistics; raises :class:`UdpStatsError`."""
        if not self._listeners:
            return {}
        return self.listing().stats(self._listeners)

    def remove(self) -> None:
        """Delete the table (idempotent)."""
        self._listeners = ()
        done = self._run("delete", "table", FAMILY, TABLE)
        if done.returncode != 0 and "No such file or directory" not in done.stderr:
            raise UdpStatsError(f"nft delete table: {done.stderr.strip()[:500]}")
