"""Helpers for identity tests: configuration files, logins, an admin API client."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette wants httpx2 for its test client; httpx works the same for us.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ADMIN_PASSWORD = "s3cret-admin"


def write_config(tmp_path: Path, **identity: Any) -> Path:
    options = {"bootstrap_admin_password": ADMIN_PASSWORD, **identity}
    path = tmp_path / "identity.ini"
    lines = ["[DEFAULT]", f"database_url = sqlite:///{tmp_path / 'identity.db'}",
             f"log_file = {tmp_path / 'identity.log'}", "", "[identity]"]
    lines += [f"{key} = {value}" for key, value in options.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def password_auth(user: str, password: str, project: str | None = "admin",
                  **scope: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"id": "default"}, "password": password}}}}}
    if project is not None:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    if scope:
        body["auth"]["scope"] = scope
    return body


class Api:
    """A TestClient with an admin token and small helpers."""

    def __init__(self, client: TestClient, password: str = ADMIN_PASSWORD) -> None:
        self.client = client
        self.token = self.login("admin", password)

    def login(self, user: str, password: str, project: str | None = "admin") -> str:
        resp = self.client.post("/v3/auth/tokens", json=password_auth(user, password, project))
        assert resp.status_code == 201, resp.text
        return str(resp.headers["X-Subject-Token"])

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"X-Auth-Token": token or self.token}

    def get(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(token), **kw)

    def post(self, path: str, body: Any, token: str | None = None) -> Any:
        return self.client.post(path, json=body, headers=self.headers(token))

    def patch(self, path: str, body: Any, token: str | None = None) -> Any:
        return self.client.patch(path, json=body, headers=self.headers(token))

    def put(self, path: str, token: str | None = None) -> Any:
        return self.client.put(path, headers=self.headers(token))

    def delete(self, path: str, token: str | None = None) -> Any:
        return self.client.delete(path, headers=self.headers(token))

    def create(self, kind: str, **fields: Any) -> dict[str, Any]:
        resp = self.post(f"/v3/{kind}s", {kind: fields})
        assert resp.status_code == 201, resp.text
        return dict(resp.json()[kind])

    def role_id(self, name: str) -> str:
        return str(self.get(f"/v3/roles?name={name}").json()["roles"][0]["id"])

    def project_id(self, name: str) -> str:
        return str(self.get(f"/v3/projects?name={name}").json()["projects"][0]["id"])
