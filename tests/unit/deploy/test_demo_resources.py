"""The demo's deletions against the real networking API (central, in-process): only
what the demo made goes, a line for each, and a second run finds nothing."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "networking"))

from networking_testing import Cloud, build_cloud, ok

from tricircle_lb.deploy import demo_resources as res
from tricircle_lb.deploy.bootstrap import Api


@pytest.fixture
def central(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cloud, Api]]:
    for cloud in build_cloud(tmp_path, monkeypatch):
        client = cloud.client("CentralRegion")
        yield cloud, Api(client, str(client.base_url), "admin-token")


def _names(cloud: Cloud, collection: str, path: str) -> list[tuple[str, str]]:
    items = ok(cloud.client("CentralRegion").get(path))[collection]
    return sorted((i["name"], i["description"]) for i in items if i["name"] != "default")


def test_delete_network_removes_only_the_demos(central: tuple[Cloud, Api]) -> None:
    cloud, api = central
    res.ensure_network(api, "net1")
    ok(cloud.client("CentralRegion").post("/v2.0/networks", json={"network": {
        "name": "net1", "description": "a user's"}}), 201)
    assert res.delete_network(api, "net1") == ["deleted network net1"]
    assert _names(cloud, "networks", "/v2.0/networks") == [("net1", "a user's")]
    assert res.delete_network(api, "net1") == []


def test_delete_security_group_removes_only_the_demos(central: tuple[Cloud, Api]) -> None:
    cloud, api = central
    res.ensure_security_group(api, "web", (("tcp", 80),))
    ok(cloud.client("CentralRegion").post("/v2.0/security-groups", json={"security_group": {
        "name": "web", "description": "a user's"}}), 201)
    assert res.delete_security_group(api, "web") == ["deleted security group web"]
    assert _names(cloud, "security_groups", "/v2.0/security-groups") == [("web", "a user's")]
    assert res.delete_security_group(api, "web") == []


def test_a_network_in_use_is_deleted_once_its_last_port_goes(
        central: tuple[Cloud, Api]) -> None:
    cloud, api = central
    net = res.ensure_network(api, "net1")
    client = cloud.client("CentralRegion")
    port = ok(client.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 201)
    # The port is removed while the deletion is being refused (409) and retried.
    later = threading.Timer(1.5, lambda: client.delete(f"/v2.0/ports/{port['port']['id']}"))
    later.start()
    try:
        assert res.delete_network(api, "net1") == ["deleted network net1"]
    finally:
        later.join()
    assert _names(cloud, "networks", "/v2.0/networks") == []
