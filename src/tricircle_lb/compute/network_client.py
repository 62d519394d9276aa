"""The region's local networking (Neutron v2.0), as the caller or as compute itself.

``token=None`` calls as the compute service (admin), which is how ports are
bound to hosts: ``binding:host_id`` is admin-only in Neutron. Neutron's
errors come back as :class:`ApiError` with Neutron's status and message, so a
fault shown on a server is the sentence networking said.
"""

from __future__ import annotations

import logging
from typing import Any

from tricircle_lb.common.errors import BadRequest, NotFound
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.networking.client import NeutronClient, seg

LOG = logging.getLogger(__name__)
Body = dict[str, Any]


class NetworkClient(NeutronClient):
    def __init__(self, session: ServiceSession, region: str) -> None:
        super().__init__(session, region)
        self.region = region

    # -- the calls compute makes ------------------------------------------------

    def get_network(self, network_id: str, token: str | None = None) -> Body:
        result: Body = self.request("GET", f"/v2.0/networks/{seg(network_id)}", token)["network"]
        return result

    def list_networks(self, token: str, **filters: str) -> list[Body]:
        result: list[Body] = self.request("GET", "/v2.0/networks", token,
                                          params=filters)["networks"]
        return result

    def get_port(self, port_id: str, token: str | None = None) -> Body:
        result: Body = self.request("GET", f"/v2.0/ports/{seg(port_id)}", token)["port"]
        return result

    def ports_of(self, device_id: str) -> list[Body]:
        result: list[Body] = self.request("GET", "/v2.0/ports",
                                          params={"device_id": device_id})["ports"]
        return result

    def create_port(self, token: str, port: Body) -> Body:
        result: Body = self.request("POST", "/v2.0/ports", token, body={"port": port})["port"]
        return result

    def update_port(self, port_id: str, changes: Body) -> Body:
        result: Body = self.request("PUT", f"/v2.0/ports/{seg(port_id)}",
                                    body={"port": changes})["port"]
        return result

    def delete_port(self, port_id: str) -> None:
        """As the service; a port already gone is fine."""
        try:
            self.request("DELETE", f"/v2.0/ports/{seg(port_id)}")
        except NotFound:
            LOG.info("port %s was already deleted", port_id)

    def unbind_port(self, port_id: str) -> None:
        """Clear the binding and owner of a port a user gave; a port gone is fine."""
        try:
            self.update_port(port_id, {"binding:host_id": "", "device_id": "",
                                       "device_owner": ""})
        except NotFound:
            LOG.info("port %s was already deleted", port_id)

    def security_group_ids(self, token: str, names: list[str]) -> list[str]:
        ids = []
        for name in names:
            found = self.request("GET", "/v2.0/security-groups", token,
                                 params={"name": name})["security_groups"]
            matches = [g for g in found if g["name"] == name or g["id"] == name]
            if not matches:
                try:
                    matches = [self.request("GET", f"/v2.0/security-groups/{seg(name)}",
                                            token)["security_group"]]
                except NotFound:
                    matches = []
            if len(matches) != 1:
                raise BadRequest(f"Security group {name} not found for project" if not matches
                                 else f"Multiple security groups named {name}; use an id.")
            ids.append(str(matches[0]["id"]))
        return ids
