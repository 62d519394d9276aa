"""Names of everything the data plane creates.

Namespaces carry the project prefix (``tcl-``) so ``ip netns list`` shows at
a glance what is ours and a sweep can remove it. Device names follow the
Neutron Linux bridge agent (``brq…``, ``tap…``, ``vxlan-<VNI>``) and must
fit the kernel's 15 characters.
"""

from __future__ import annotations

import hashlib
import re

from tricircle_lb.dataplane.errors import InvalidName

PREFIX = "tcl-"
UNDERLAY_NAMESPACE = "tcl-underlay"
HOST_NAMESPACE_PREFIX = "tcl-h-"
IFNAMSIZ = 15
_NS_MAX = 200  # a file name under /run/netns; keep well under NAME_MAX (255)
_NS_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")
_IF_SAFE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def host_namespace(host: str, prefix: str = HOST_NAMESPACE_PREFIX) -> str:
    """``tcl-h-<host>``; hosts with odd characters or very long names get a hashed tail."""
    if not host:
        raise InvalidName("empty host name")
    if _NS_SAFE.match(host) and len(prefix) + len(host) <= _NS_MAX and host not in (".", ".."):
        return prefix + host
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", host).strip(".-")[:64] or "host"
    return f"{prefix}{clean}-{short_hash(host)}"


def bridge_name(network_id: str) -> str:
    """``brq`` + first 11 characters of the network id (as Neutron's Linux bridge agent)."""
    return "brq" + network_id[:11]


def tap_name(port_id: str) -> str:
    """Host end of a port's veth: ``tap`` + first 11 characters of the port id."""
    return "tap" + port_id[:11]


def vxlan_name(vni: int) -> str:
    return f"vxlan-{vni}"


def vlan_name(parent: str, vlan_id: int) -> str:
    name = f"{parent}.{vlan_id}"
    check_ifname(name)
    return name


def physnet_bridge(physnet: str) -> str:
    """The underlay's switch for a physical network: ``pn-<physnet>`` (hashed if too long)."""
    name = f"pn-{physnet}"
    if _IF_SAFE.match(name):
        return name
    return f"pn-{short_hash(physnet, 10)}"


def check_ifname(name: str) -> str:
    if not _IF_SAFE.match(name):
        raise InvalidName(f"invalid device name {name!r} (1-15 of [A-Za-z0-9_.:-])")
    return name
