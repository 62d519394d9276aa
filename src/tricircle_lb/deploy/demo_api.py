"""The demo's view of the cloud: one JSON client per public API, found by name.

Everything the demo does goes through the same public APIs a user's tools
call (Neutron at central and in each region, Nova and Octavia per region),
as admin. Objects are looked up by name first so every step can be run
again; what the demo creates carries :data:`MARK` so ``demo --cleanup``
removes only its own objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tricircle_lb.deploy.bootstrap import Api, BootstrapError
from tricircle_lb.deploy.services import Kind, services
from tricircle_lb.deploy.topology import Topology

MARK = "created by tricircle-lb demo"
T = TypeVar("T")


class DemoError(Exception):
    """A demo step could not be completed; the message says which and why."""


@dataclass(frozen=True)
class RegionApis:
    network: Api
    compute: Api       # Nova, base …/v2.1
    image: Api         # Glance, base …/image
    lb: Api            # Octavia


@dataclass(frozen=True)
class Apis:
    central: Api
    regions: dict[str, RegionApis]

    @classmethod
    def of(cls, topology: Topology, client: Any, token: str) -> Apis:
        svcs = services(topology)

        def url(kind: Kind, region: str) -> str:
            found = next((s.url for s in svcs if s.kind is kind and s.region == region), None)
            if found is None:
                raise DemoError(f"the topology has no {kind.value} service in {region}")
            return found

        central = Api(client, url(Kind.NETWORKING, topology.central.region_name), token)
        regions = {r: RegionApis(Api(client, url(Kind.NETWORKING, r), token),
                                 Api(client, f"{url(Kind.COMPUTE, r)}/v2.1", token),
                                 Api(client, f"{url(Kind.COMPUTE, r)}/image", token),
                                 Api(client, url(Kind.LOADBALANCER, r), token))
                   for r in topology.region_names}
        return cls(central, regions)

    def region(self, name: str) -> RegionApis:
        try:
            return self.regions[name]
        except KeyError:
            raise DemoError(f"the deployment has no region {name!r}") from None


def named(api: Api, path: str, collection: str, name: str,
          **filters: str) -> list[dict[str, Any]]:
    """Every object of ``collection`` called ``name`` (filtered here too: the server-side
    filter is a hint)."""
    items = api.call("GET", path, params={"name": name, **filters}).get(collection, [])
    return [i for i in items if i.get("name") == name
            and all(str(i.get(k)) == v for k, v in filters.items())]


def one(api: Api, path: str, collection: str, name: str,
        **filters: str) -> dict[str, Any] | None:
    found = named(api, path, collection, name, **filters)
    return found[0] if found else None


def wait_for(probe: Callable[[], T | None], timeout: float, what: str,
             interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something; a :class:`DemoError` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except BootstrapError as exc:
            if not_found(exc) or time.monotonic() > deadline:
                raise DemoError(f"{what}: {exc}") from exc
            result = None
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise DemoError(f"{what}: not done within {timeout:.0f}s")
        time.sleep(interval)


def not_found(exc: BootstrapError) -> bool:
    """Whether the API answered 404 (:class:`Api` puts the status after the URL)."""
    return ": 404 " in str(exc)


def gone(api: Api, path: str) -> bool:
    """True once ``GET path`` answers 404."""
    try:
        api.call("GET", path)
    except BootstrapError as exc:
        if not_found(exc):
            return True
        raise
    return False
