"""Bad input gets Keystone's error format with 400, never 422 or 500; discovery."""

from __future__ import annotations

import pytest
from identity_testing import Api, TestClient


@pytest.mark.parametrize("body", [
    {"project": {"name": 3}},
    {"project": {}},
    {"project": {"name": "x", "enabled": "yes"}},
    {"project": {"name": ""}},
    {"project": {"name": "x", "tags": "a"}},
    {"nothing": {}},
    ["project"],
    "project",
])
def test_bad_project_bodies_are_400(api: Api, body: object) -> None:
    resp = api.post("/v3/projects", body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == 400 and error["title"] == "Bad Request" and error["message"]


def test_malformed_json_is_400(api: Api) -> None:
    for path in ("/v3/users", "/v3/auth/tokens", "/v3/regions"):
        resp = api.client.post(path, content=b"{not json", headers={
            **api.headers(), "Content-Type": "application/json"})
        assert resp.status_code == 400, path
        assert resp.json()["error"]["code"] == 400


@pytest.mark.parametrize("body", [
    {},
    {"auth": {}},
    {"auth": {"identity": {"methods": "password"}}},
    {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin"}}}}},
    {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": "admin", "password": "x"}}}}},  # no domain for a user by name
])
def test_bad_auth_bodies_are_400(client: TestClient, body: object) -> None:
    resp = client.post("/v3/auth/tokens", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == 400


def test_bad_types_elsewhere(api: Api) -> None:
    assert api.post("/v3/users", {"user": {"name": "u", "password": 5}}).status_code == 400
    assert api.post("/v3/roles", {"role": {"name": ["r"]}}).status_code == 400
    assert api.post("/v3/services", {"service": {"name": "no-type"}}).status_code == 400
    assert api.post("/v3/regions", {"region": {"id": 7}}).status_code == 400
    resp = api.patch("/v3/projects/whatever", {"project": {"enabled": "no"}})
    assert resp.status_code == 400


def test_unknown_route_and_method(api: Api) -> None:
    resp = api.get("/v3/nothing-here")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == 404
    resp = api.client.put("/v3/projects", headers=api.headers())
    assert resp.status_code == 405 and resp.json()["error"]["code"] == 405


def test_version_discovery(client: TestClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 300
    (version,) = resp.json()["versions"]["values"]
    assert version["id"] == "v3.14" and version["status"] == "stable"
    resp = client.get("/v3")
    assert resp.status_code == 200
    version = resp.json()["version"]
    assert version["links"] == [{"rel": "self", "href": "http://testserver/v3/"}]
    assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


def test_immutable_attributes(api: Api) -> None:
    project = api.create("project", name="imm", id="chosen", links="x")
    assert project["id"] != "chosen" and isinstance(project["links"], dict)
    path = f"/v3/projects/{project['id']}"
    assert api.patch(path, {"project": {"domain_id": "other"}}).status_code == 400
    assert api.patch(path, {"project": {"domain_id": "default"}}).status_code == 200
    assert api.patch(path, {"project": {"id": "other"}}).status_code == 400
