"""Segment allocation (central only): one VNI or VLAN id per network, for every region.

Central allocates a network's segment once; every region's mirror carries the
same one, which is what lets the regions' bridges join into one L2 network.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import BadRequest, Conflict, ServiceUnavailable
from tricircle_lb.networking.config import NetworkingConfig
from tricircle_lb.networking.errors import invalid
from tricircle_lb.networking.models import Network

VXLAN_OVERHEAD = 50
MAX_VNI = 2**24 - 1


@dataclass(frozen=True)
class Segment:
    network_type: str
    physical_network: str | None
    segmentation_id: int | None
    mtu: int


class NoNetworkAvailable(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__("Unable to create the network. No tenant network is available for "
                         "allocation.", kind="NoNetworkAvailable")


def _used(session: Session, network_type: str, physnet: str | None) -> set[int]:
    query = select(Network.segmentation_id).where(Network.network_type == network_type)
    if physnet is not None:
        query = query.where(Network.physical_network == physnet)
    return {v for v in session.scalars(query) if v is not None}


def allocate(session: Session, cfg: NetworkingConfig, network_type: str | None,
             physnet: str | None, segmentation_id: int | None) -> Segment:
    """The segment of a new network: the one asked for (admin), else the next free one."""
    if network_type is None:
        if physnet is not None or segmentation_id is not None:
            raise invalid("provider:network_type required with provider attributes")
        for candidate in cfg.tenant_network_types:
            try:
                return _allocate(session, cfg, candidate, None, None)
            except NoNetworkAvailable:
                continue
        raise NoNetworkAvailable()
    return _allocate(session, cfg, network_type, physnet, segmentation_id)


def _allocate(session: Session, cfg: NetworkingConfig, network_type: str, physnet: str | None,
              segmentation_id: int | None) -> Segment:
    mtu = cfg.global_physnet_mtu
    if network_type == "local":
        if physnet is not None or segmentation_id is not None:
            raise invalid("provider:physical_network and provider:segmentation_id are not "
                          "allowed for a local network")
        return Segment("local", None, None, mtu)
    if network_type == "vxlan":
        if physnet is not None:
            raise invalid("provider:physical_network specified for vxlan network")
        return Segment("vxlan", None, _vni(session, cfg, segmentation_id), mtu - VXLAN_OVERHEAD)
    if network_type == "flat":
        if segmentation_id is not None:
            raise invalid("provider:segmentation_id specified for flat network")
        physnet = physnet or (cfg.flat_networks[0] if cfg.flat_networks else None)
        if physnet is None or physnet not in cfg.flat_networks:
            raise invalid(f"physical_network '{physnet}' unknown for flat provider network")
        if session.scalar(select(Network.id).where(Network.network_type == "flat",
                                                   Network.physical_network == physnet)):
            raise Conflict(f"Unable to create the flat network. Physical network {physnet} "
                           "is in use.", kind="FlatNetworkInUse")
        return Segment("flat", physnet, None, mtu)
    return _vlan(session, cfg, physnet, segmentation_id, mtu)


def _vni(session: Session, cfg: NetworkingConfig, wanted: int | None) -> int:
    used = _used(session, "vxlan", None)
    if wanted is not None:
        if not 1 <= wanted <= MAX_VNI:
            raise invalid(f"{wanted} is not a valid VXLAN VNI: must be 1..{MAX_VNI}")
        if wanted in used:
            raise Conflict(f"Unable to create the network. The tunnel ID {wanted} is in use.",
                           kind="TunnelIdInUse")
        return wanted
    for low, high in cfg.vni_ranges:
        for vni in range(low, high + 1):
            if vni not in used:
                return vni
    raise NoNetworkAvailable()


def _vlan(session: Session, cfg: NetworkingConfig, physnet: str | None, wanted: int | None,
          mtu: int) -> Segment:
    known = {r.physical_network for r in cfg.network_vlan_ranges}
    if physnet is None:
        if wanted is not None:
            raise invalid("provider:physical_network required for VLAN provider network")
        physnet = next((r.physical_network for r in cfg.network_vlan_ranges
                        if r.minimum is not None), None)
        if physnet is None:
            raise NoNetworkAvailable()
    if physnet not in known:
        raise invalid(f"physical_network '{physnet}' unknown for VLAN provider network")
    used = _used(session, "vlan", physnet)
    if wanted is not None:
        if not 1 <= wanted <= 4094:
            raise BadRequest(f"Invalid input for operation: provider:segmentation_id {wanted} "
                             "out of range (1 through 4094).", kind="InvalidInput")
        if wanted in used:
            raise Conflict(f"Unable to create the network. The VLAN {wanted} on physical "
                           f"network {physnet} is in use.", kind="VlanIdInUse")
        return Segment("vlan", physnet, wanted, mtu)
    for r in cfg.network_vlan_ranges:
        if r.physical_network != physnet or r.minimum is None or r.maximum is None:
            continue
        for vlan in range(r.minimum, r.maximum + 1):
            if vlan not in used:
                return Segment("vlan", physnet, vlan, mtu)
    raise NoNetworkAvailable()
