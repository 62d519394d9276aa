"""CRUD, filters, duplicates and policy of the Keystone resources."""

from __future__ import annotations

from pathlib import Path

from identity_testing import ADMIN_PASSWORD, Api, TestClient, password_auth, write_config

from tricircle_lb.identity.app import create_app


def test_bootstrap_is_idempotent_and_updates_password(tmp_path: Path, api: Api) -> None:
    names = {p["name"] for p in api.get("/v3/projects").json()["projects"]}
    assert names == {"admin", "service", "demo"}
    assert {r["name"] for r in api.get("/v3/roles").json()["roles"]} == {
        "admin", "member", "reader"}
    assert [d["id"] for d in api.get("/v3/domains").json()["domains"]] == ["default"]
    # A second start over the same database with a new password.
    with TestClient(create_app(write_config(tmp_path, bootstrap_admin_password="new"))) as c:
        assert c.post("/v3/auth/tokens", json=password_auth("admin", "new")).status_code == 201
        assert c.post("/v3/auth/tokens",
                      json=password_auth("admin", ADMIN_PASSWORD)).status_code == 401
        fresh = Api(c, password="new")
        assert len(fresh.get("/v3/projects").json()["projects"]) == 3
        assert len(fresh.get("/v3/roles").json()["roles"]) == 3
        assert len(fresh.get("/v3/users").json()["users"]) == 1


def test_project_crud_filters_and_duplicates(api: Api) -> None:
    project = api.create("project", name="p1", description="first", tags=["a"], color="blue")
    assert project["domain_id"] == "default" and project["parent_id"] == "default"
    assert project["enabled"] is True and project["is_domain"] is False
    assert project["color"] == "blue"
    assert project["links"]["self"].endswith(f"/v3/projects/{project['id']}")
    resp = api.post("/v3/projects", {"project": {"name": "p1"}})
    assert resp.status_code == 409
    assert resp.json()["error"]["title"] == "Conflict"
    found = api.get("/v3/projects?name=p1").json()["projects"]
    assert [p["id"] for p in found] == [project["id"]]
    assert api.get("/v3/projects?domain_id=nope").json()["projects"] == []
    resp = api.patch(f"/v3/projects/{project['id']}", {"project": {"enabled": False,
                                                                    "name": "p2"}})
    assert resp.status_code == 200
    assert resp.json()["project"]["enabled"] is False
    assert resp.json()["project"]["name"] == "p2"
    assert api.get(f"/v3/projects/{project['id']}").json()["project"]["name"] == "p2"
    assert api.delete(f"/v3/projects/{project['id']}").status_code == 204
    resp = api.get(f"/v3/projects/{project['id']}")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": 404, "title": "Not Found",
                                     "message": f"Could not find project: {project['id']}."}}


def test_user_crud(api: Api) -> None:
    project = api.project_id("demo")
    user = api.create("user", name="alice", password="pw", default_project_id=project,
                      email="alice@example.org")
    assert user["password_expires_at"] is None and user["domain_id"] == "default"
    assert user["email"] == "alice@example.org"
    assert "password" not in user and "password_hash" not in user
    assert api.post("/v3/users", {"user": {"name": "alice"}}).status_code == 409
    assert [u["id"] for u in api.get("/v3/users?name=alice").json()["users"]] == [user["id"]]
    resp = api.patch(f"/v3/users/{user['id']}", {"user": {"enabled": False}})
    assert resp.json()["user"]["enabled"] is False
    assert api.delete(f"/v3/users/{user['id']}").status_code == 204
    assert api.get(f"/v3/users/{user['id']}").status_code == 404
    assert api.post("/v3/users", {"user": {"name": "bob", "domain_id": "nope"}}
                    ).status_code == 404


def test_roles_and_assignments(api: Api) -> None:
    role = api.create("role", name="observer")
    assert role["domain_id"] is None
    assert api.post("/v3/roles", {"role": {"name": "observer"}}).status_code == 409
    user = api.create("user", name="carol", password="pw")
    project = api.project_id("demo")
    path = f"/v3/projects/{project}/users/{user['id']}/roles/{role['id']}"
    assert api.client.head(path, headers=api.headers()).status_code == 404
    assert api.put(path).status_code == 204
    assert api.put(path).status_code == 204  # idempotent
    assert api.client.head(path, headers=api.headers()).status_code == 204
    roles = api.get(f"/v3/projects/{project}/users/{user['id']}/roles").json()["roles"]
    assert [r["name"] for r in roles] == ["observer"]
    listed = api.get(f"/v3/role_assignments?user.id={user['id']}&include_names=1").json()
    entry = listed["role_assignments"][0]
    assert entry["role"]["name"] == "observer"
    assert entry["user"]["name"] == "carol"
    assert entry["scope"]["project"]["name"] == "demo"
    assert api.delete(path).status_code == 204
    assert api.delete(path).status_code == 404
    assert api.delete(f"/v3/roles/{role['id']}").status_code == 204
    assert api.put(path).status_code == 404


def test_effective_assignments_include_implied_roles(api: Api) -> None:
    admin = api.get("/v3/users?name=admin").json()["users"][0]["id"]
    direct = api.get(f"/v3/role_assignments?user.id={admin}").json()["role_assignments"]
    assert len(direct) == 1
    effective = api.get(f"/v3/role_assignments?user.id={admin}&effective&include_names"
                        ).json()["role_assignments"]
    assert {a["role"]["name"] for a in effective} == {"admin", "member", "reader"}
    scoped = api.get(f"/v3/role_assignments?scope.project.id={api.project_id('demo')}"
                     ).json()["role_assignments"]
    assert scoped == []


def test_regions_services_endpoints_and_catalog(api: Api) -> None:
    region = api.create("region", id="RegionOne", description="first")
    assert region == {"id": "RegionOne", "description": "first", "parent_region_id": None,
                      "links": region["links"]}
    assert api.post("/v3/regions", {"region": {"id": "RegionOne"}}).status_code == 409
    api.create("region", id="RegionTwo")
    service = api.create("service", type="network", name="neutron")
    assert service["enabled"] is True
    urls = {}
    for region_id in ("RegionOne", "RegionTwo"):
        for interface in ("public", "internal"):
            ep = api.create("endpoint", service_id=service["id"], interface=interface,
                            region_id=region_id, url=f"http://{region_id}:9696")
            urls[(region_id, interface)] = ep["id"]
    listed = api.get(f"/v3/endpoints?service_id={service['id']}&interface=public"
                     "&region_id=RegionTwo").json()["endpoints"]
    assert [e["id"] for e in listed] == [urls[("RegionTwo", "public")]]
    assert listed[0]["region"] == "RegionTwo"
    bad = api.post("/v3/endpoints", {"endpoint": {"service_id": service["id"],
                                                  "interface": "sideways", "url": "http://x"}})
    assert bad.status_code == 400
    bad = api.post("/v3/endpoints", {"endpoint": {"service_id": "nope", "interface": "public",
                                                  "url": "http://x"}})
    assert bad.status_code == 400
    token = api.client.post("/v3/auth/tokens", json=password_auth("admin", ADMIN_PASSWORD))
    catalog = token.json()["token"]["catalog"]
    assert [s["type"] for s in catalog] == ["network"]
    entry = catalog[0]
    assert entry["name"] == "neutron" and entry["id"] == service["id"]
    assert {(e["region_id"], e["interface"]) for e in entry["endpoints"]} == set(urls)
    assert all(e["region"] == e["region_id"] and e["url"] for e in entry["endpoints"])
    assert api.get("/v3/auth/catalog").json()["catalog"] == catalog
    assert api.delete("/v3/regions/RegionOne").status_code == 403  # endpoints use it
    assert api.delete(f"/v3/endpoints/{urls[('RegionOne', 'public')]}").status_code == 204
    assert api.delete(f"/v3/services/{service['id']}").status_code == 204
    assert api.get("/v3/endpoints").json()["endpoints"] == []
    assert api.delete("/v3/regions/RegionOne").status_code == 204
    assert [r["id"] for r in api.get("/v3/regions").json()["regions"]] == ["RegionTwo"]


def test_non_admin_gets_403(api: Api, demo: dict[str, str]) -> None:
    token = demo["token"]
    for path in ("/v3/projects", "/v3/users", "/v3/roles", "/v3/services", "/v3/endpoints",
                 "/v3/role_assignments", "/v3/domains"):
        resp = api.get(path, token=token)
        assert resp.status_code == 403, path
        assert resp.json()["error"]["code"] == 403
    assert api.post("/v3/projects", {"project": {"name": "x"}}, token=token).status_code == 403
    assert api.delete(f"/v3/projects/{demo['project_id']}", token=token).status_code == 403
    # ... but they may see themselves, their projects and their catalog.
    mine = api.get(f"/v3/users/{demo['user_id']}/projects", token=token).json()["projects"]
    assert [p["name"] for p in mine] == ["demo"]
    assert [p["name"] for p in api.get("/v3/auth/projects", token=token).json()["projects"]
            ] == ["demo"]
    assert api.get(f"/v3/users/{demo['user_id']}", token=token).status_code == 200
    assert api.get(f"/v3/projects/{demo['project_id']}", token=token).status_code == 200
    assert api.get("/v3/auth/catalog", token=token).status_code == 200
    assert api.get("/v3/regions", token=token).status_code == 200
    other = api.get("/v3/users?name=admin").json()["users"][0]["id"]
    assert api.get(f"/v3/users/{other}/projects", token=token).status_code == 403


def test_no_token_is_401(client: TestClient) -> None:
    resp = client.get("/v3/projects")
    assert resp.status_code == 401
    assert resp.json()["error"]["title"] == "Unauthorized"
    assert "WWW-Authenticate" in resp.headers
    assert client.get("/v3/projects", headers={"X-Auth-Token": "junk"}).status_code == 401


def test_bootstrap_registers_identity_endpoints(tmp_path: Path) -> None:
    url = "http://127.0.0.1:5000/v3"
    for public in (url, url + "/"):  # the second start moves the endpoint
        path = write_config(tmp_path, bootstrap_region_id="RegionOne",
                            bootstrap_public_url=public, bootstrap_internal_url=url)
        with TestClient(create_app(path)) as client:
            api = Api(client)
            (service,) = api.get("/v3/services?type=identity").json()["services"]
            endpoints = api.get(f"/v3/endpoints?service_id={service['id']}").json()
            assert {(e["interface"], e["region_id"], e["url"])
                    for e in endpoints["endpoints"]} == {
                ("public", "RegionOne", public), ("internal", "RegionOne", url)}
            assert [r["id"] for r in api.get("/v3/regions").json()["regions"]] == ["RegionOne"]
