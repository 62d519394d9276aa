"""Security groups, port security and anti-spoofing of a host's ports as nftables text.

Pure: :func:`build` turns the region's answers (ports, security groups) into
a :class:`FirewallSpec`, :func:`render` turns that into one ``nft -f``
script which replaces the agent's two tables, and nothing else, in one
transaction (decision 055):

- ``table bridge tricircle_sg``, chain ``prerouting``: a frame a port with
  port security sends must carry its MAC and a source address among its
  fixed IPs and allowed address pairs (IPv4, ARP, IPv6 and the link-local
  address of each allowed MAC); DHCP discovery (``0.0.0.0`` → broadcast) and
  IPv6 duplicate-address detection (``::``) pass, DHCP server answers and
  router advertisements from a port are dropped, other ethertypes too.
- ``table inet tricircle_sg`` sees bridged IPv4/IPv6 through br_netfilter
  (``bridge-nf-call-iptables``): a conntrack zone per network (its bridge),
  then in ``forward`` established traffic passes, the sending port's egress
  chain (by ``ether saddr``, trustworthy after the bridge check) returns or
  drops, the receiving port's ingress chain (by ``ether daddr``) accepts or
  drops. Ports without port security (and ``network:*`` ports, as Neutron
  trusts them) are in neither map: unfiltered.

Remote-group rules match named sets of the group's members' addresses,
computed from the ports the agent reads (its ports and every port of their
networks, shadow ports of other regions included).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tricircle_lb.dataplane.names import bridge_name, tap_name

LOG = logging.getLogger(__name__)
Body = dict[str, Any]

TABLE = "tricircle_sg"
ZONE_MAX = 65535
# Neutron's protocol names and numbers; ported protocols take ``th dport``.
_NAMED = {"tcp": "tcp", "udp": "udp", "sctp": "sctp", "dccp": "dccp", "udplite": "udplite",
          "icmp": "icmp", "icmpv6": "ipv6-icmp", "ipv6-icmp": "ipv6-icmp", "58": "ipv6-icmp",
          "1": "icmp", "6": "tcp", "17": "udp", "132": "sctp", "33": "dccp",
          "136": "udplite"}
_PORTED = {"tcp", "udp", "sctp", "dccp", "udplite"}
# What a port may always receive (Neutron's firewall allows it before any rule).
_ICMPV6_ALWAYS = ("nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit",
                  "nd-neighbor-advert", "mld-listener-query", "mld-listener-report",
                  "mld-listener-done", "mld2-listener-report")


@dataclass(frozen=True)
class Rule:
    direction: str  # ingress, egress
    ethertype: str  # IPv4, IPv6
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class Group:
    id: str
    rules: tuple[Rule, ...]
    stateful: bool = True


@dataclass(frozen=True)
class FilteredPort:
    """A port plugged on this host whose traffic the firewall checks."""

    port_id: str
    network_id: str
    mac: str
    ips: tuple[str, ...]
    # (address or CIDR, MAC): the port's own fixed IPs and its allowed address pairs.
    allowed: tuple[tuple[str, str], ...]
    groups: tuple[str, ...]

    @property
    def tap(self) -> str:
        return tap_name(self.port_id)

    @property
    def chain(self) -> str:
        return self.port_id.replace("-", "")[:12]


@dataclass(frozen=True)
class FirewallSpec:
    ports: tuple[FilteredPort, ...] = ()
    groups: dict[str, Group] = field(default_factory=dict)
    # remote group id -> addresses (or CIDRs) of its members
    members: dict[str, frozenset[str]] = field(default_factory=dict)
    networks: tuple[str, ...] = ()  # every network plugged here (one zone each)


def filtered(port: Body) -> bool:
    """Whether the firewall checks ``port`` (port security on, not a network device)."""
    return bool(port.get("port_security_enabled", True)) and not str(
        port.get("device_owner") or "").startswith("network:")


def _rule(body: Body) -> Rule:
    return Rule(direction=str(body.get("direction") or "ingress"),
                ethertype=str(body.get("ethertype") or "IPv4"),
                protocol=str(body["protocol"]).lower() if body.get("protocol") else None,
                port_range_min=body.get("port_range_min"),
                port_range_max=body.get("port_range_max"),
                remote_ip_prefix=body.get("remote_ip_prefix") or None,
                remote_group_id=body.get("remote_group_id") or None)


def group_of(body: Body) -> Group:
    return Group(id=str(body["id"]), stateful=bool(body.get("stateful", True)),
                 rules=tuple(_rule(r) for r in body.get("security_group_rules") or []))


def _addresses(port: Body) -> list[tuple[str, str]]:
    mac = str(port.get("mac_address") or "").lower()
    found = [(str(ip["ip_address"]), mac) for ip in port.get("fixed_ips") or []
             if ip.get("ip_address")]
    for pair in port.get("allowed_address_pairs") or []:
        if pair.get("ip_address"):
            found.append((str(pair["ip_address"]),
                          str(pair.get("mac_address") or mac).lower()))
    return found


def build(*, plugged: Iterable[tuple[str, str]], ports: Sequence[Body],
          groups: Sequence[Body]) -> FirewallSpec:
    """The firewall of a host.

    ``plugged``: (port id, network id) of every port the host plugs; ``ports``:
    every port body the agent read (its own and their networks', shadow ports
    included), which also give the members of remote groups; ``groups``: the
    security groups of its ports, with their rules.
    """
    by_id = {str(p["id"]): p for p in ports}
    wanted = list(plugged)
    filtered_ports = []
    for port_id, network_id in wanted:
        body = by_id.get(port_id)
        if body is None or not filtered(body):
            continue
        filtered_ports.append(FilteredPort(
            port_id=port_id, network_id=network_id,
            mac=str(body.get("mac_address") or "").lower(),
            ips=tuple(str(ip["ip_address"]) for ip in body.get("fixed_ips") or []
                      if ip.get("ip_address")),
            allowed=tuple(_addresses(body)),
            groups=tuple(str(g) for g in body.get("security_groups") or [])))
    group_map = {g.id: g for g in map(group_of, groups)}
    remote = {r.remote_group_id for g in group_map.values() for r in g.rules
              if r.remote_group_id}
    members: dict[str, set[str]] = {g: set() for g in remote}
    for body in by_id.values():
        for group_id in body.get("security_groups") or []:
            if group_id in members:
                members[group_id].update(ip for ip, _mac in _addresses(body))
    return FirewallSpec(ports=tuple(sorted(filtered_ports, key=lambda p: p.port_id)),
                        groups=group_map,
                        members={g: frozenset(v) for g, v in members.items()},
                        networks=tuple(sorted({n for _p, n in wanted})))


# Rendering --------------------------------------------------------------------------
def zones(networks: Iterable[str]) -> dict[str, int]:
    """A conntrack zone per network, the same on every round and host (hashed from the
    id; a collision takes the next free zone, in the order of the ids)."""
    result: dict[str, int] = {}
    used: set[int] = set()
    for network_id in sorted(set(networks)):
        zone = int(hashlib.sha256(network_id.encode()).hexdigest()[:8], 16) % ZONE_MAX + 1
        while zone in used:
            zone = zone % ZONE_MAX + 1
        used.add(zone)
        result[network_id] = zone
    return result


def link_local(mac: str) -> str:
    """The EUI-64 link-local IPv6 address of ``mac``."""
    octets = [int(b, 16) for b in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80, *[0] * 6, *eui])))


def _elements(items: Iterable[str]) -> str:
    listed = sorted(set(items))
    return f"elements = {{ {', '.join(listed)} }}" if listed else ""


def _set(name: str, kind: str, items: Iterable[str], interval: bool = False) -> str:
    flags = " flags interval;" if interval else ""
    body = _elements(items)
    return f"  set {name} {{ type {kind};{flags} {body} }}\n"


def _version(address: str) -> int:
    return ipaddress.ip_network(address, strict=False).version


def _collapsed(addresses: Iterable[str], version: int) -> list[str]:
    """Addresses and CIDRs of one version, merged so an interval set takes them."""
    nets = [ipaddress.ip_network(a, strict=False) for a in addresses if _version(a) == version]
    return [str(n) if n.prefixlen != n.max_prefixlen else str(n.network_address)
            for n in ipaddress.collapse_addresses(nets)]  # type: ignore[type-var]


def _spoof_elements(port: FilteredPort, version: int) -> list[str]:
    by_mac: dict[str, list[str]] = {}
    for address, mac in port.allowed:
        by_mac.setdefault(mac, []).append(address)
    if version == 6:
        for mac in {port.mac, *by_mac}:
            by_mac.setdefault(mac, []).append(link_local(mac))
    return [f'"{port.tap}" . {mac} . {address}' for mac, addresses in sorted(by_mac.items())
            for address in _collapsed(addresses, version)]


def _bridge_table(spec: FirewallSpec, digest: str) -> str:
    ports = spec.ports
    macs = [f'"{p.tap}" . {mac}' for p in ports for mac in {p.mac, *(m for _a, m in p.allowed)}]
    return (
        f"table bridge {TABLE} {{\n"
        f'  comment "{digest}"\n'
        + _set("ports", "ifname", (f'"{p.tap}"' for p in ports))
        + _set("macs", "ifname . ether_addr", macs)
        + _set("ipv4", "ifname . ether_addr . ipv4_addr",
               (e for p in ports for e in _spoof_elements(p, 4)), interval=True)
        + _set("ipv6", "ifname . ether_addr . ipv6_addr",
               (e for p in ports for e in _spoof_elements(p, 6)), interval=True)
        + "  chain prerouting {\n"
        "    type filter hook prerouting priority -300; policy accept;\n"
        "    iifname != @ports accept\n"
        "    iifname . ether saddr != @macs drop\n"
        "    ether type arp iifname . arp saddr ether . arp saddr ip @ipv4 accept\n"
        "    ether type arp drop\n"
        "    ether type ip udp sport 67 udp dport 68 drop\n"
        "    ether type ip iifname . ether saddr . ip saddr @ipv4 accept\n"
        "    ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 "
        "udp dport 67 accept\n"
        "    ether type ip drop\n"
        "    ether type ip6 icmpv6 type nd-router-advert drop\n"
        "    ether type ip6 udp sport 547 udp dport 546 drop\n"
        "    ether type ip6 iifname . ether saddr . ip6 saddr @ipv6 accept\n"
        "    ether type ip6 ip6 saddr :: icmpv6 type { nd-neighbor-solicit, "
        "mld-listener-report, mld2-listener-report } accept\n"
        "    drop\n"
        "  }\n"
        "}\n")


def _group_set(group_id: str, version: int) -> str:
    return f"rg_{group_id.replace('-', '')[:12]}_v{version}"


def _match(rule: Rule) -> str | None:
    """The nft match of ``rule``; ``None`` when it can never match (a remote group of
    no known member is an empty set, which matches nothing: still rendered)."""
    version = 6 if rule.ethertype == "IPv6" else 4
    family = "ip6" if version == 6 else "ip"
    parts = [f"meta nfproto ipv{version}"]
    remote = "saddr" if rule.direction == "ingress" else "daddr"
    if rule.remote_ip_prefix:
        net = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        if net.version != version:
            return None
        if net.prefixlen:
            parts.append(f"{family} {remote} {net}")
    elif rule.remote_group_id:
        parts.append(f"{family} {remote} @{_group_set(rule.remote_group_id, version)}")
    protocol = rule.protocol
    if protocol is not None and protocol != "any":
        name = _NAMED.get(protocol, protocol)
        if version == 6 and name == "icmp":
            name = "ipv6-icmp"
        if version == 4 and name == "ipv6-icmp":
            return None
        parts.append(f"meta l4proto {name}")
        low, high = rule.port_range_min, rule.port_range_max
        if name in _PORTED and (low is not None or high is not None):
            low = low if low is not None else high
            high = high if high is not None else low
            parts.append(f"th dport {low}" if low == high else f"th dport {low}-{high}")
        elif name in ("icmp", "ipv6-icmp") and low is not None:
            keyword = "icmp" if name == "icmp" else "icmpv6"
            parts.append(f"{keyword} type {low}")
            if high is not None:
                parts.append(f"{keyword} code {high}")
    return " ".join(parts)


def _port_chains(port: FilteredPort, spec: FirewallSpec) -> str:
    ingress: list[str] = []
    egress: list[str] = []
    for group_id in port.groups:
        group = spec.groups.get(group_id)
        if group is None:
            LOG.warning("port %s: security group %s not known: its rules are left out",
                        port.port_id, group_id)
            continue
        for rule in group.rules:
            match = _match(rule)
            if match is None:
                continue
            (ingress if rule.direction == "ingress" else egress).append(match)
    lines = [f"  chain in_{port.chain} {{\n"]
    lines += [f"    {m} accept\n" for m in dict.fromkeys(ingress)]
    lines.append("    drop\n  }\n")
    lines.append(f"  chain out_{port.chain} {{\n")
    lines += [f"    {m} return\n" for m in dict.fromkeys(egress)]
    lines.append("    drop\n  }\n")
    return "".join(lines)


def _inet_table(spec: FirewallSpec, digest: str) -> str:
    zone_of = zones(spec.networks)
    zone_elements = [f'"{bridge_name(n)}" : {z}' for n, z in zone_of.items()]
    out: list[str] = [f"table inet {TABLE} {{\n", f'  comment "{digest}"\n']
    out.append(f"  map zones {{ typeof iifname : ct zone; {_elements(zone_elements)} }}\n")
    out.append("  map ingress { type ether_addr : verdict; "
               + _elements(f"{p.mac} : jump in_{p.chain}" for p in spec.ports) + " }\n")
    out.append("  map egress { type ether_addr : verdict; "
               + _elements(f"{p.mac} : jump out_{p.chain}" for p in spec.ports) + " }\n")
    for group_id, members in sorted(spec.members.items()):
        out.append(_set(_group_set(group_id, 4), "ipv4_addr", _collapsed(members, 4), True))
        out.append(_set(_group_set(group_id, 6), "ipv6_addr", _collapsed(members, 6), True))
    for port in spec.ports:
        out.append(_port_chains(port, spec))
    icmpv6 = ", ".join(_ICMPV6_ALWAYS)
    out.append(
        "  chain zone {\n"
        "    type filter hook prerouting priority raw; policy accept;\n"
        "    ct zone set iifname map @zones\n"
        "  }\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        "    ct state established,related accept\n"
        f"    meta l4proto ipv6-icmp icmpv6 type {{ {icmpv6} }} accept\n"
        "    ct state invalid drop\n"
        "    meta nfproto ipv4 udp sport 67 udp dport 68 accept\n"
        "    meta nfproto ipv6 udp sport 547 udp dport 546 accept\n"
        "    ether saddr vmap @egress\n"
        "    ether daddr vmap @ingress\n"
        "  }\n"
        "}\n")
    return "".join(out)


def render(spec: FirewallSpec) -> tuple[str, str]:
    """(digest, ``nft -f`` script): the script replaces both tables at once, and each
    table carries the digest as its comment so a reader knows whether it is current."""
    body = _bridge_table(spec, "{digest}") + _inet_table(spec, "{digest}")
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    script = (f"table bridge {TABLE}\ndelete table bridge {TABLE}\n"
              f"table inet {TABLE}\ndelete table inet {TABLE}\n"
              + body.replace('comment "{digest}"', f'comment "{digest}"'))
    return digest, script
