"""A region's calls to central networking, as the caller or as the service itself."""

from __future__ import annotations

from tricircle_lb.common.errors import ServiceUnavailable
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.networking.client import NeutronClient


class CentralClient(NeutronClient):
    """Central's Neutron API, as a region calls it (and its pod and routing table)."""

    def __init__(self, session: ServiceSession, central_region: str, region: str) -> None:
        super().__init__(session, central_region, "central networking")
        self.central_region = central_region
        self.region = region
        self._pod_id: str | None = None

    def pod_id(self) -> str:
        """This region's pod at central (registered by the deployment tool)."""
        if self._pod_id is None:
            for pod in self.request("GET", "/v1.0/pods")["pods"]:
                if pod["region_name"] == self.region:
                    self._pod_id = pod["pod_id"]
                    break
            else:
                raise ServiceUnavailable(f"region {self.region} is not registered as a pod "
                                         "at central networking")
        return self._pod_id

    def register(self, resource_type: str, resource_id: str, project_id: str) -> None:
        """Tell central this region now mirrors the resource (idempotent)."""
        self.request("POST", "/v1.0/routings", body={"routing": {
            "top_id": resource_id, "bottom_id": resource_id, "pod_id": self.pod_id(),
            "project_id": project_id, "resource_type": resource_type}})
