"""Netlink link messages (pyroute2's ``ifinfmsg``) as :class:`~.interface.Link` values."""

from __future__ import annotations

from typing import Any

from tricircle_lb.dataplane.interface import Link

IFF_UP = 0x1


def link_from_message(msg: Any, names: dict[int, str]) -> Link:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = (info.get_attr("IFLA_INFO_KIND") if info else None) or ""
    data = info.get_attr("IFLA_INFO_DATA") if info else None
    master = msg.get_attr("IFLA_MASTER")
    link_index = msg.get_attr("IFLA_LINK")
    vni = local_ip = group = vlan_id = parent = None
    if kind == "vxlan" and data is not None:
        vni = data.get_attr("IFLA_VXLAN_ID")
        local_ip = data.get_attr("IFLA_VXLAN_LOCAL")
        group = data.get_attr("IFLA_VXLAN_GROUP")
        lower = data.get_attr("IFLA_VXLAN_LINK")
        parent = names.get(lower) if lower else None
    elif kind == "vlan" and data is not None:
        vlan_id = data.get_attr("IFLA_VLAN_ID")
        parent = names.get(link_index) if link_index else None
    return Link(
        name=str(msg.get_attr("IFLA_IFNAME")),
        kind=str(kind),
        mac=str(msg.get_attr("IFLA_ADDRESS") or ""),
        mtu=int(msg.get_attr("IFLA_MTU") or 0),
        up=bool(msg["flags"] & IFF_UP),
        master=names.get(master) if master else None,
        vni=vni, local_ip=local_ip, group=group, vlan_id=vlan_id, parent=parent,
        index=int(msg["index"]),
        link_index=int(link_index) if link_index else None,
        carrier=bool(msg.get_attr("IFLA_CARRIER", 1)),
    )
