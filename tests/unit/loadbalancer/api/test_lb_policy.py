"""Octavia's default RBAC as pure decisions (the HTTP side is in the other tests)."""

from __future__ import annotations

import pytest

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Forbidden
from tricircle_lb.loadbalancer.policy import Action, enforce, owning_project, sees_all_projects


def ctx(*roles: str, project: str | None = "p1") -> Context:
    return Context("u", project, frozenset(roles))


@pytest.mark.parametrize(("roles", "allowed"), [
    (("admin",), {Action.READ, Action.WRITE, Action.ADMIN}),
    (("member",), {Action.READ, Action.WRITE}),
    (("reader",), {Action.READ}),
    # Octavia's deprecated advanced-RBAC roles: nothing under its current defaults.
    (("load-balancer_admin",), set()),
    (("load-balancer_member",), set()),
    (("load-balancer_observer",), set()),
    (("load-balancer_global_observer",), set()),
    (("other",), set()),
    ((), set()),
])
def test_roles(roles: tuple[str, ...], allowed: set[Action]) -> None:
    for action in Action:
        if action in allowed:
            enforce(ctx(*roles), action)
        else:
            with pytest.raises(Forbidden, match="Policy does not allow this request"):
                enforce(ctx(*roles), action)


def test_project_of_new_objects() -> None:
    assert owning_project(ctx("member"), None) == "p1"
    assert owning_project(ctx("member"), "p1") == "p1"
    with pytest.raises(Forbidden):
        owning_project(ctx("member"), "p2")
    assert owning_project(ctx("admin"), "p2") == "p2"
    with pytest.raises(Forbidden):
        enforce(ctx("member", project=None), Action.READ)
    assert sees_all_projects(ctx("admin")) and not sees_all_projects(ctx("member"))
    assert not sees_all_projects(ctx("load-balancer_global_observer", "reader"))
