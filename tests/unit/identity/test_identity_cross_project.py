"""Issue 10: projects are strangers, through Keystone's API.

Alice is a member of project ``demo``, Bob of project ``alt``, Carol a reader
of ``demo``. As in Keystone's default policy: a user reads its own user, the
projects it has roles on and its own tokens; everything about another user or
project is 403 ("You are not authorized to perform the requested action:
identity:<action>."), listings of projects, users and assignments are an
admin's, and a reader changes nothing. The admin sees everything.
"""

from __future__ import annotations

import pytest
from identity_testing import Api

People = dict[str, dict[str, str]]


def denied(resp: object, action: str) -> None:
    status = getattr(resp, "status_code", None)
    body = resp.json()  # type: ignore[attr-defined]
    assert status == 403, body
    assert body["error"]["message"] == (
        f"You are not authorized to perform the requested action: identity:{action}.")


@pytest.fixture
def people(api: Api) -> People:
    projects = {"demo": api.project_id("demo"),
                "alt": api.create("project", name="alt", domain_id="default")["id"]}
    found: People = {}
    for name, project, role in (("alice", "demo", "member"), ("bob", "alt", "member"),
                                ("carol", "demo", "reader")):
        user = api.create("user", name=name, password=f"{name}-pw", domain_id="default")
        resp = api.put(f"/v3/projects/{projects[project]}/users/{user['id']}/roles/"
                       f"{api.role_id(role)}")
        assert resp.status_code == 204, resp.text
        found[name] = {"user_id": user["id"], "project_id": projects[project],
                       "token": api.login(name, f"{name}-pw", project)}
    return found


def test_another_projects_and_users_are_forbidden(api: Api, people: People) -> None:
    alice, bob = people["alice"], people["bob"]
    token = bob["token"]
    demo, user = alice["project_id"], alice["user_id"]
    member = api.role_id("member")
    denied(api.get(f"/v3/projects/{demo}", token=token), "get_project")
    denied(api.patch(f"/v3/projects/{demo}", {"project": {"name": "x"}}, token=token),
           "update_project")
    denied(api.delete(f"/v3/projects/{demo}", token=token), "delete_project")
    denied(api.get(f"/v3/users/{user}", token=token), "get_user")
    denied(api.patch(f"/v3/users/{user}", {"user": {"name": "x"}}, token=token),
           "update_user")
    denied(api.delete(f"/v3/users/{user}", token=token), "delete_user")
    denied(api.get(f"/v3/users/{user}/projects", token=token), "list_user_projects")
    denied(api.get(f"/v3/projects/{demo}/users/{user}/roles", token=token), "list_grants")
    denied(api.put(f"/v3/projects/{demo}/users/{bob['user_id']}/roles/{member}",
                   token=token), "create_grant")
    denied(api.delete(f"/v3/projects/{demo}/users/{user}/roles/{member}", token=token),
           "revoke_grant")
    # Listings are an admin's, whatever the filter.
    for path, action in (("/v3/projects", "list_projects"),
                         ("/v3/projects?name=demo", "list_projects"),
                         ("/v3/users", "list_users"),
                         (f"/v3/role_assignments?scope.project.id={demo}",
                          "list_role_assignments"),
                         (f"/v3/role_assignments?user.id={user}", "list_role_assignments")):
        denied(api.get(path, token=token), action)
    # Alice's token is hers: Bob may neither validate nor revoke it.
    theirs = {"X-Auth-Token": token, "X-Subject-Token": alice["token"]}
    assert api.client.get("/v3/auth/tokens", headers=theirs).status_code == 403
    assert api.client.head("/v3/auth/tokens", headers=theirs).status_code == 403
    assert api.client.delete("/v3/auth/tokens", headers=theirs).status_code == 403
    mine = {"X-Auth-Token": alice["token"], "X-Subject-Token": alice["token"]}
    assert api.client.get("/v3/auth/tokens", headers=mine).status_code == 200
    # Bob's own view: his project only.
    assert [p["id"] for p in api.get("/v3/auth/projects", token=token).json()[
        "projects"]] == [bob["project_id"]]
    assert api.get(f"/v3/projects/{bob['project_id']}", token=token).status_code == 200
    # Nothing changed.
    assert api.get(f"/v3/projects/{demo}").json()["project"]["name"] == "demo"
    assert api.get(f"/v3/users/{user}").json()["user"]["name"] == "alice"


def test_reader_reads_its_own_and_changes_nothing(api: Api, people: People) -> None:
    carol = people["carol"]
    token, demo = carol["token"], carol["project_id"]
    assert api.get(f"/v3/projects/{demo}", token=token).json()["project"]["id"] == demo
    assert api.get(f"/v3/users/{carol['user_id']}", token=token).status_code == 200
    denied(api.patch(f"/v3/projects/{demo}", {"project": {"name": "x"}}, token=token),
           "update_project")
    denied(api.get(f"/v3/projects/{people['bob']['project_id']}", token=token),
           "get_project")
    denied(api.get(f"/v3/users/{people['alice']['user_id']}", token=token), "get_user")
    denied(api.get("/v3/projects", token=token), "list_projects")


def test_admin_sees_everything(api: Api, people: People) -> None:
    names = {p["name"] for p in api.get("/v3/projects").json()["projects"]}
    assert {"demo", "alt"} <= names
    for person in people.values():
        assert api.get(f"/v3/users/{person['user_id']}").status_code == 200
        assert api.get(f"/v3/projects/{person['project_id']}").status_code == 200
    assigned = api.get(f"/v3/role_assignments?scope.project.id="
                       f"{people['alice']['project_id']}").json()["role_assignments"]
    assert {a["user"]["id"] for a in assigned} >= {people["alice"]["user_id"],
                                                   people["carol"]["user_id"]}
