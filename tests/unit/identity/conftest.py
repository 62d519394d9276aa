"""Fixtures: a real identity app over a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from identity_testing import Api, TestClient, write_config

from tricircle_lb.identity.app import create_app


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def client(config_file: Path) -> Iterator[TestClient]:
    with TestClient(create_app(config_file)) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def demo(api: Api) -> dict[str, str]:
    """A ``demo`` user with ``member`` on project ``demo``; returns ids and a token."""
    user = api.create("user", name="demo", password="demo-pw", domain_id="default")
    project = api.project_id("demo")
    resp = api.put(f"/v3/projects/{project}/users/{user['id']}/roles/{api.role_id('member')}")
    assert resp.status_code == 204, resp.text
    token = api.login("demo", "demo-pw", "demo")
    return {"user_id": user["id"], "project_id": project, "token": token}
