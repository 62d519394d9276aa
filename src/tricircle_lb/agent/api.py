"""The agent's view of its region's APIs: a few list reads, a few status writes.

:class:`RegionApi` is what the agent calls; :class:`HttpRegionApi` speaks
Neutron v2.0 / the Tricircle ``/v1.0`` extensions and Nova v2.1 with the
service user's token (tests use a fake with the same methods).

Reads are whole lists filtered by query parameters (``?id=a&id=b``), so a
reconcile costs a constant number of calls whatever the number of ports;
long id lists are split into chunks of :data:`ID_CHUNK` to keep URLs short.
Any failure raises :class:`ApiUnavailable`; the agent then keeps the data
plane as it is and tries again at the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from tricircle_lb.common.errors import ServiceUnavailable
from tricircle_lb.common.http import ServiceSession

LOG = logging.getLogger(__name__)
Body = dict[str, Any]
ID_CHUNK = 100
Param = str | int | float | bool | None
COMPUTE_MICROVERSION = "compute 2.79"


class ApiUnavailable(Exception):
    """A region API could not be read or written (network, auth, 5xx, bad answer)."""


class RegionApi(Protocol):
    def ports_on_host(self, host: str) -> list[Body]:
        """Ports whose ``binding:host_id`` is ``host``."""
        ...

    def ports_of_networks(self, network_ids: Sequence[str]) -> list[Body]:
        """Every port the region knows on those networks (shadow ports included)."""
        ...

    def networks(self, network_ids: Sequence[str]) -> list[Body]: ...

    def subnets(self, subnet_ids: Sequence[str]) -> list[Body]: ...

    def security_groups(self, group_ids: Sequence[str]) -> list[Body]:
        """Security groups with their ``security_group_rules``."""
        ...

    def servers_on_host(self, host: str) -> list[Body] | None:
        """Servers placed on ``host``; ``None`` when the region has no compute service."""
        ...

    def report_agent(self, host: str, agent: Body) -> None: ...

    def set_port_status(self, port_id: str, status: str) -> None: ...

    def update_server(self, server_id: str, server: Body) -> None: ...


class HttpRegionApi:
    """:class:`RegionApi` over HTTP with the service user's token from identity."""

    def __init__(self, session: ServiceSession, region: str) -> None:
        self.session = session
        self.region = region

    def _endpoint(self, service_type: str) -> str:
        try:
            return self.session.endpoint(service_type, self.region)
        except ServiceUnavailable as exc:
            raise ApiUnavailable(str(exc)) from exc

    def _has(self, service_type: str) -> bool:
        try:
            self.session.endpoint(service_type, self.region)
        except ServiceUnavailable:
            return False
        return True

    def _request(self, method: str, url: str, *,
                 params: list[tuple[str, Param]] | None = None,
                 json: Body | None = None, headers: dict[str, str] | None = None) -> Body:
        for attempt in range(2):
            try:
                token = self.session.token()
                resp = self.session.client.request(
                    method, url, params=params, json=json,
                    headers={"X-Auth-Token": token, **(headers or {})})
            except (httpx.HTTPError, ServiceUnavailable) as exc:
                raise ApiUnavailable(f"{method} {url}: {exc}") from exc
            if resp.status_code == 401 and attempt == 0:
                self.session.invalidate()
                continue
            if resp.status_code >= 400:
                raise ApiUnavailable(f"{method} {url}: {resp.status_code} {resp.text[:200]}")
            if not resp.content:
                return {}
            try:
                body = resp.json()
            except ValueError as exc:
                raise ApiUnavailable(f"{method} {url}: not JSON") from exc
            return body if isinstance(body, dict) else {}
        raise ApiUnavailable(f"{method} {url}: unauthorized")

    def _list(self, service_type: str, path: str, collection: str,
              params: list[tuple[str, Param]],
              headers: dict[str, str] | None = None) -> list[Body]:
        body = self._request("GET", self._endpoint(service_type) + path, params=params,
                             headers=headers)
        items = body.get(collection)
        if not isinstance(items, list):
            raise ApiUnavailable(f"GET {path}: no {collection!r} list in the answer")
        return [i for i in items if isinstance(i, dict)]

    def _list_by(self, path: str, collection: str, key: str, ids: Sequence[str]) -> list[Body]:
        unique = sorted(set(ids))
        result: list[Body] = []
        for start in range(0, len(unique), ID_CHUNK):
            chunk = unique[start:start + ID_CHUNK]
            params: list[tuple[str, Param]] = [
                (key, i) for i in chunk]
            result.extend(self._list("network", path, collection, params))
        return result

    def ports_on_host(self, host: str) -> list[Body]:
        return self._list("network", "/v2.0/ports", "ports", [("binding:host_id", host)])

    def ports_of_networks(self, network_ids: Sequence[str]) -> list[Body]:
        return self._list_by("/v2.0/ports", "ports", "network_id", network_ids)

    def networks(self, network_ids: Sequence[str]) -> list[Body]:
        return self._list_by("/v2.0/networks", "networks", "id", network_ids)

    def subnets(self, subnet_ids: Sequence[str]) -> list[Body]:
        return self._list_by("/v2.0/subnets", "subnets", "id", subnet_ids)

    def security_groups(self, group_ids: Sequence[str]) -> list[Body]:
        return self._list_by("/v2.0/security-groups", "security_groups", "id", group_ids)

    def servers_on_host(self, host: str) -> list[Body] | None:
        if not self._has("compute"):
            return None
        # The catalog's compute URL carries the version (``…/v2.1``), as Nova's does.
        return self._list("compute", "/servers/detail", "servers",
                          [("all_tenants", "1"), ("host", host)],
                          headers={"OpenStack-API-Version": COMPUTE_MICROVERSION})

    def report_agent(self, host: str, agent: Body) -> None:
        self._request("PUT", f"{self._endpoint('network')}/v1.0/agents/{quote(host, safe='')}",
                      json={"agent": agent})

    def set_port_status(self, port_id: str, status: str) -> None:
        self._request("PUT", f"{self._endpoint('network')}/v1.0/ports/{port_id}/status",
                      json={"status": status})

    def update_server(self, server_id: str, server: Body) -> None:
        self._request("PUT",
                      f"{self._endpoint('compute')}/os-host-agent/servers/{server_id}",
                      json={"server": server},
                      headers={"OpenStack-API-Version": COMPUTE_MICROVERSION})
