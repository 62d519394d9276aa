"""The load-balancer service's view of compute (Octavia's compute driver).

Amphorae are servers of the region's compute service, booted from the
amphora image with ports the controller made beforehand; member networks
are plugged later by interface attach.

Contract: every call may be retried. :meth:`ComputeDriver.boot` takes the
amphora id as the server name (``amphora-<id>``) and returns the server that
already carries that name, so a flow that crashed after booting finds its
server instead of booting a second. ``delete`` and ``detach`` of something
gone succeed. Errors: :class:`ComputeError` (refused: permanent) and
:class:`ComputeUnavailable` (unreachable or failing: retry).
"""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from tricircle_lb.common.http import ServiceSession
from tricircle_lb.networking.client import seg

# Nova microversion the driver speaks (interface attach with tags, server tags).
MICROVERSION = "2.52"


class ComputeError(Exception):
    """Compute refused the request (permanent)."""


class ComputeUnavailable(ComputeError):
    """Compute could not be reached or failed (retry)."""


class ComputeNotFound(ComputeError):
    pass


@dataclass(frozen=True)
class Server:
    id: str
    name: str
    status: str  # BUILD, ACTIVE, ERROR, …
    host: str
    fault: str = ""


def server_name(amphora_id: str) -> str:
    return f"amphora-{amphora_id}"


class ComputeDriver(Protocol):
    def boot(self, *, amphora_id: str, image: str, flavor: str, port_ids: tuple[str, ...],
             user_data: bytes, availability_zone: str | None = None) -> Server:
        """Boot (or find) the amphora's server; it comes up asynchronously."""

    def get(self, server_id: str) -> Server:
        """The server now (ComputeNotFound if it is gone)."""

    def find_image(self, name: str) -> str:
        """The id of the image called ``name`` (ComputeError if there is none)."""

    def hosts(self) -> list[str]:
        """The region's hypervisors that are up and enabled (to place amphorae apart)."""

    def delete(self, server_id: str) -> None:
        """Delete the server (gone already: fine)."""

    def attach_port(self, server_id: str, port_id: str) -> None:
        """Plug an existing port into the server (already plugged: fine)."""

    def detach_port(self, server_id: str, port_id: str) -> None:
        """Unplug a port (not plugged: fine)."""


class NovaComputeDriver:
    """:class:`ComputeDriver` over the region's Nova v2.1 API, as the service."""

    def __init__(self, session: ServiceSession, region: str) -> None:
        self.session = session
        self.region = region

    def boot(self, *, amphora_id: str, image: str, flavor: str, port_ids: tuple[str, ...],
             user_data: bytes, availability_zone: str | None = None) -> Server:
        name = server_name(amphora_id)
        found = self._call("GET", "/servers/detail", params={"name": f"^{name}$"})["servers"]
        if found:
            return _server(found[0])
        body: dict[str, Any] = {
            "name": name, "imageRef": image, "flavorRef": flavor,
            "networks": [{"port": p} for p in port_ids],
            "user_data": base64.b64encode(user_data).decode(),
            "tags": ["octavia-amphora"],
        }
        if availability_zone:
            body["availability_zone"] = availability_zone
        created = self._call("POST", "/servers", json={"server": body})["server"]
        return self.get(str(created["id"]))

    def get(self, server_id: str) -> Server:
        return _server(self._call("GET", f"/servers/{seg(server_id)}")["server"])

    def hosts(self) -> list[str]:
        body = self._call("GET", "/os-hypervisors/detail")["hypervisors"]
        return sorted(str(h["hypervisor_hostname"]) for h in body
                      if h.get("state") == "up" and h.get("status") == "enabled")

    def find_image(self, name: str) -> str:
        images = self._call("GET", "/v2/images", params={"name": name},
                            service="image")["images"]
        if not images:
            raise ComputeError(f"no image called {name!r} in {self.region}")
        return str(images[0]["id"])

    def delete(self, server_id: str) -> None:
        with contextlib.suppress(ComputeNotFound):
            self._call("DELETE", f"/servers/{seg(server_id)}")

    def attach_port(self, server_id: str, port_id: str) -> None:
        attached = self._call("GET", f"/servers/{seg(server_id)}/os-interface")
        if any(i.get("port_id") == port_id for i in attached["interfaceAttachments"]):
            return
        self._call("POST", f"/servers/{seg(server_id)}/os-interface",
                   json={"interfaceAttachment": {"port_id": port_id}})

    def detach_port(self, server_id: str, port_id: str) -> None:
        with contextlib.suppress(ComputeNotFound):
            self._call("DELETE", f"/servers/{seg(server_id)}/os-interface/{seg(port_id)}")

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None,
              params: dict[str, str] | None = None, service: str = "compute",
              ) -> dict[str, Any]:
        try:
            url = self.session.endpoint(service, self.region) + path
        except Exception as exc:  # the catalog or identity is unreachable
            raise ComputeUnavailable(str(exc)) from exc
        for attempt in range(2):
            headers = {"X-Auth-Token": self.session.token(),
                       "OpenStack-API-Version": f"compute {MICROVERSION}"}
            try:
                resp = self.session.client.request(method, url, json=json, params=params,
                                                   headers=headers)
            except httpx.HTTPError as exc:
                raise ComputeUnavailable(f"compute of {self.region} unreachable: {exc}") from exc
            if resp.status_code == 401 and attempt == 0:
                self.session.invalidate()
                continue
            break
        if resp.status_code == 404:
            raise ComputeNotFound(_message(resp))
        if resp.status_code >= 500:
            raise ComputeUnavailable(f"compute of {self.region}: {_message(resp)}")
        if resp.status_code >= 400:
            raise ComputeError(f"compute of {self.region}: {_message(resp)}")
        return resp.json() if resp.content else {}


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        (inner,) = body.values()
        return str(inner.get("message") or resp.text)
    except (ValueError, AttributeError):
        return f"{resp.status_code} {resp.text[:200]}"


def _server(body: dict[str, Any]) -> Server:
    fault = body.get("fault") or {}
    return Server(id=str(body["id"]), name=str(body.get("name") or ""),
                  status=str(body.get("status") or ""),
                  host=str(body.get("OS-EXT-SRV-ATTR:host") or ""),
                  fault=str(fault.get("message") or "") if isinstance(fault, dict) else "")
