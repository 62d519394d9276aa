"""Issuing, validating, revoking and expiring tokens; scoping rules."""

from __future__ import annotations

import re
import time
from pathlib import Path

from identity_testing import ADMIN_PASSWORD, Api, TestClient, password_auth, write_config

from tricircle_lb.identity.app import create_app

KEYSTONE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_password_login_scoped_to_project(client: TestClient) -> None:
    resp = client.post("/v3/auth/tokens", json=password_auth("admin", ADMIN_PASSWORD))
    assert resp.status_code == 201
    assert resp.headers["X-Subject-Token"]
    token = resp.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["project"]["name"] == "admin"
    assert token["project"]["domain"] == {"id": "default", "name": "Default"}
    assert {r["name"] for r in token["roles"]} == {"admin", "member", "reader"}
    assert KEYSTONE_TIME.match(token["expires_at"]) and KEYSTONE_TIME.match(token["issued_at"])
    assert len(token["audit_ids"]) == 1
    assert token["catalog"] == []


def test_login_by_user_id_and_project_id(api: Api) -> None:
    user_id = api.get("/v3/users?name=admin").json()["users"][0]["id"]
    project_id = api.project_id("admin")
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": user_id, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"id": project_id}}}}
    resp = api.client.post("/v3/auth/tokens", json=body)
    assert resp.status_code == 201
    assert resp.json()["token"]["project"]["id"] == project_id


def test_unscoped_and_domain_scoped(api: Api) -> None:
    resp = api.client.post("/v3/auth/tokens", json=password_auth("admin", ADMIN_PASSWORD, None))
    token = resp.json()["token"]
    # With no scope the user's default project is used, as Keystone does.
    assert token["project"]["name"] == "admin"
    body = password_auth("admin", ADMIN_PASSWORD, None)
    body["auth"]["scope"] = "unscoped"
    token = api.client.post("/v3/auth/tokens", json=body).json()["token"]
    assert "project" not in token and "catalog" not in token and "roles" not in token
    # Domain scope needs a role on the domain.
    resp = api.client.post("/v3/auth/tokens", json=password_auth(
        "admin", ADMIN_PASSWORD, None, domain={"id": "default"}))
    assert resp.status_code == 401
    user_id = api.get("/v3/users?name=admin").json()["users"][0]["id"]
    assert api.put(f"/v3/domains/default/users/{user_id}/roles/{api.role_id('admin')}"
                   ).status_code == 204
    resp = api.client.post("/v3/auth/tokens", json=password_auth(
        "admin", ADMIN_PASSWORD, None, domain={"name": "Default"}))
    assert resp.status_code == 201
    assert resp.json()["token"]["domain"] == {"id": "default", "name": "Default"}


def test_bad_credentials_are_401(client: TestClient) -> None:
    for body in (password_auth("admin", "wrong"), password_auth("nobody", "x")):
        resp = client.post("/v3/auth/tokens", json=body)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == 401
        assert resp.json()["error"]["title"] == "Unauthorized"


def test_scope_without_role_is_401(api: Api, demo: dict[str, str]) -> None:
    resp = api.client.post("/v3/auth/tokens", json=password_auth("demo", "demo-pw", "admin"))
    assert resp.status_code == 401
    resp = api.client.post("/v3/auth/tokens", json=password_auth("demo", "demo-pw", "nope"))
    assert resp.status_code == 401


def test_member_token_lists_implied_reader(api: Api, demo: dict[str, str]) -> None:
    resp = api.client.get("/v3/auth/tokens", headers={
        "X-Auth-Token": demo["token"], "X-Subject-Token": demo["token"]})
    assert resp.status_code == 200
    assert {r["name"] for r in resp.json()["token"]["roles"]} == {"member", "reader"}


def test_validate_head_nocatalog_and_revoke(api: Api) -> None:
    other = api.login("admin", ADMIN_PASSWORD)
    headers = {"X-Auth-Token": api.token, "X-Subject-Token": other}
    resp = api.client.get("/v3/auth/tokens", headers=headers)
    assert resp.status_code == 200 and "catalog" in resp.json()["token"]
    assert resp.headers["X-Subject-Token"] == other
    resp = api.client.get("/v3/auth/tokens?nocatalog", headers=headers)
    assert "catalog" not in resp.json()["token"]
    assert api.client.head("/v3/auth/tokens", headers=headers).status_code == 200
    assert api.client.delete("/v3/auth/tokens", headers=headers).status_code == 204
    assert api.client.get("/v3/auth/tokens", headers=headers).status_code == 404
    assert api.client.head("/v3/auth/tokens", headers=headers).status_code == 404
    # A revoked token cannot be used as the caller's either: 401.
    resp = api.client.get("/v3/projects", headers={"X-Auth-Token": other})
    assert resp.status_code == 401
    resp = api.client.get("/v3/auth/tokens", headers={"X-Auth-Token": other,
                                                      "X-Subject-Token": api.token})
    assert resp.status_code == 401


def test_unknown_subject_is_404_bad_caller_is_401(api: Api) -> None:
    resp = api.client.get("/v3/auth/tokens", headers={"X-Auth-Token": api.token,
                                                      "X-Subject-Token": "bogus"})
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Could not find token: bogus."
    assert api.client.get("/v3/auth/tokens", headers={"X-Subject-Token": api.token}
                          ).status_code == 401


def test_tokens_expire(tmp_path: Path) -> None:
    with TestClient(create_app(write_config(tmp_path, token_expiration=1))) as client:
        api = Api(client)
        subject = api.login("admin", ADMIN_PASSWORD)
        headers = {"X-Auth-Token": api.token, "X-Subject-Token": subject}
        assert client.get("/v3/auth/tokens", headers=headers).status_code == 200
        time.sleep(1.2)
        assert client.get("/v3/projects", headers={"X-Auth-Token": subject}).status_code == 401
        fresh = api.login("admin", ADMIN_PASSWORD)
        headers = {"X-Auth-Token": fresh, "X-Subject-Token": subject}
        assert client.get("/v3/auth/tokens", headers=headers).status_code == 404
        assert client.get("/v3/auth/tokens?allow_expired=1", headers=headers).status_code == 200


def test_user_may_validate_only_own_token(api: Api, demo: dict[str, str]) -> None:
    headers = {"X-Auth-Token": demo["token"], "X-Subject-Token": api.token}
    resp = api.client.get("/v3/auth/tokens", headers=headers)
    assert resp.status_code == 403
    assert resp.json()["error"]["title"] == "Forbidden"
    headers = {"X-Auth-Token": api.token, "X-Subject-Token": demo["token"]}
    assert api.client.get("/v3/auth/tokens", headers=headers).status_code == 200


def test_token_method_rescopes_keeping_expiry(api: Api, demo: dict[str, str]) -> None:
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": api.token}},
                     "scope": {"project": {"id": demo["project_id"]}}}}
    assert api.client.post("/v3/auth/tokens", json=body).status_code == 401  # no role there
    body["auth"]["scope"] = {"project": {"name": "service", "domain": {"id": "default"}}}
    user_id = api.get("/v3/users?name=admin").json()["users"][0]["id"]
    api.put(f"/v3/projects/{api.project_id('service')}/users/{user_id}/roles/"
            f"{api.role_id('admin')}")
    resp = api.client.post("/v3/auth/tokens", json=body)
    assert resp.status_code == 201
    new = resp.json()["token"]
    old = api.client.get("/v3/auth/tokens", headers={
        "X-Auth-Token": api.token, "X-Subject-Token": api.token}).json()["token"]
    assert new["project"]["name"] == "service"
    assert new["expires_at"] == old["expires_at"]
    assert new["audit_ids"][1] == old["audit_ids"][0]


def test_tokens_die_with_their_user_or_role(api: Api, demo: dict[str, str]) -> None:
    headers = {"X-Auth-Token": demo["token"]}
    assert api.client.get("/v3/auth/projects", headers=headers).status_code == 200
    member = api.role_id("member")
    assert api.delete(f"/v3/projects/{demo['project_id']}/users/{demo['user_id']}/roles/"
                      f"{member}").status_code == 204
    assert api.client.get("/v3/auth/projects", headers=headers).status_code == 401


def test_password_change_revokes_tokens(api: Api, demo: dict[str, str]) -> None:
    resp = api.patch(f"/v3/users/{demo['user_id']}", {"user": {"password": "new-pw"}})
    assert resp.status_code == 200
    assert api.client.get("/v3/auth/projects",
                          headers={"X-Auth-Token": demo["token"]}).status_code == 401
    assert api.client.post("/v3/auth/tokens", json=password_auth(
        "demo", "demo-pw", "demo")).status_code == 401
    assert api.login("demo", "new-pw", "demo")


def test_local_validator_builds_context(api: Api, client: TestClient) -> None:
    validator = client.app.state.validator  # type: ignore[attr-defined]
    ctx = validator.validate(api.token)
    assert ctx.user_name == "admin" and ctx.project_name == "admin"
    assert ctx.is_admin and {"member", "reader"} <= ctx.roles
