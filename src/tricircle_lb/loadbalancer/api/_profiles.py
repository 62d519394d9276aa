"""What flavors and availability zones share: Octavia's "named object with a
metadata profile".

A profile is a provider and its settings as JSON text, written by an admin;
named objects (flavors, zones) point at one. The profile's five routes are
the same for both but for the model, the field and key names and the words of
Octavia's messages, gathered in a :class:`ProfileKind`; :func:`add_profile_routes`
registers them, with request bodies built from it. What differs stays with each
resource: how the settings are checked, and how its named objects are created
and updated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import Field, create_model
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    RequestBody,
    Services,
    ServicesDep,
    authorize,
    list_response,
    show,
)
from tricircle_lb.loadbalancer.errors import not_found
from tricircle_lb.loadbalancer.models import LbBase, LoadBalancer, ProvisioningStatus

__all__ = ["ProfileKind", "add_profile_routes", "delete_unless_used", "get_or_404",
           "refuse_nulls", "used_by_load_balancers", "uuid_text"]

M = TypeVar("M", bound=LbBase)
Text255 = Annotated[str, Field(max_length=255)]
Settings = Annotated[str, Field(max_length=4096)]


@dataclass(frozen=True)
class ProfileKind:
    """One kind of profile, in Octavia's names and words."""

    model: type[LbBase]
    kind: str  # in messages: "Flavor profile"
    key: str  # one in a body: "flavorprofile"
    collection: str  # many in a body: "flavorprofiles"
    path: str  # under the router's prefix: "/flavorprofiles"
    data: str  # the settings' field: "flavor_data"
    used_by: InstrumentedAttribute[str]  # the named objects' column pointing here
    # (settings, provider, services): raises Octavia's error for bad settings.
    check: Callable[[str, str, Services], object]
    name_type: Any = Text255  # a profile's name, as the resource's Octavia type has it

    def view(self, profile: Any) -> dict[str, Any]:
        return {"id": profile.id, "name": profile.name,
                "provider_name": profile.provider_name,
                self.data: getattr(profile, self.data)}

    def in_use(self, profile_id: str) -> ColumnElement[bool]:
        return self.used_by == profile_id


def uuid_text(value: str) -> str:
    """A pydantic validator: ``value`` if it is a UUID, in Octavia's words if not."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise ValueError("Value should be UUID format") from None
    return value


def get_or_404(session: Session, model: type[M], kind: str, ident: str) -> M:
    found = session.get(model, ident)
    if found is None:
        raise not_found(kind, ident)
    return found


def refuse_nulls(changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        if value is None:
            raise BadRequest(f"None is not a valid option for {name}")


def _in_use(kind: str, ident: str) -> Conflict:
    return Conflict(f"{kind} {ident} is in use and cannot be modified.")


def used_by_load_balancers(column: InstrumentedAttribute[Any],
                           value: str) -> ColumnElement[bool]:
    """A load balancer not yet deleted has ``value`` in ``column``."""
    return (column == value) & (
        LoadBalancer.provisioning_status != ProvisioningStatus.DELETED.value)


def delete_unless_used(svc: Services, model: type[LbBase], kind: str, ident: str,
                       used: ColumnElement[bool]) -> Response:
    """Delete ``ident`` (404 if missing), or Octavia's 409 while any row matches ``used``."""
    with svc.db.write() as session:
        found = get_or_404(session, model, kind, ident)
        if session.scalar(select(exists().where(used))):
            raise _in_use(kind, ident)
        session.delete(found)
    return Response(status_code=204)


def _bodies(p: ProfileKind) -> tuple[type[RequestBody], type[RequestBody]]:
    """The create and update request bodies, ``{key: {name, provider_name, data}}``;
    every field required on create, none on update."""
    types: dict[str, Any] = {"name": p.name_type, "provider_name": Text255, p.data: Settings}
    required: dict[str, Any] = {field: (kind, ...) for field, kind in types.items()}
    optional: dict[str, Any] = {field: (kind | None, None) for field, kind in types.items()}
    bodies = []
    for verb, fields in (("create", required), ("update", optional)):
        inner: dict[str, Any] = {p.key: (create_model(f"{p.key}_{verb}", __base__=RequestBody,
                                                      **fields), ...)}
        bodies.append(create_model(f"{p.key}_{verb}_request", __base__=RequestBody, **inner))
    return bodies[0], bodies[1]


def add_profile_routes(router: APIRouter, p: ProfileKind) -> None:
    """The admin-only list, show, create, update and delete of ``p`` on ``router``."""

    def list_profiles(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
        authorize(ctx, Action.ADMIN)
        with svc.db.read() as session:
            views = [p.view(row) for row in session.scalars(select(p.model))]
        body = list_response(request, p.collection, views)
        # Octavia names these links after one profile, not the collection.
        body[f"{p.key}_links"] = body.pop(f"{p.collection}_links")
        return body

    def show_profile(profile_id: str, request: Request, ctx: CallerDep,
                     svc: ServicesDep) -> dict[str, Any]:
        authorize(ctx, Action.ADMIN)
        with svc.db.read() as session:
            return show(request, p.key, p.view(get_or_404(session, p.model, p.kind,
                                                          profile_id)))

    def create_profile(body: RequestBody, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
        authorize(ctx, Action.ADMIN)
        req = getattr(body, p.key)
        p.check(getattr(req, p.data), req.provider_name, svc)
        with svc.db.write() as session:
            profile = p.model(name=req.name, provider_name=req.provider_name,
                              **{p.data: getattr(req, p.data)})
            session.add(profile)
            session.flush()
            return {p.key: p.view(profile)}

    def update_profile(profile_id: str, body: RequestBody, ctx: CallerDep,
                       svc: ServicesDep) -> dict[str, Any]:
        authorize(ctx, Action.ADMIN)
        changes = getattr(body, p.key).model_dump(exclude_unset=True)
        refuse_nulls(changes)
        with svc.db.write() as session:
            profile: Any = get_or_404(session, p.model, p.kind, profile_id)
            if ({"provider_name", p.data} & changes.keys()
                    and session.scalar(select(exists().where(p.in_use(profile_id))))):
                # What is already handed out must keep meaning what it meant.
                raise _in_use(p.kind, profile_id)
            p.check(changes.get(p.data, getattr(profile, p.data)),
                    changes.get("provider_name", profile.provider_name), svc)
            for name, value in changes.items():
                setattr(profile, name, value)
            session.flush()
            return {p.key: p.view(profile)}

    def delete_profile(profile_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
        authorize(ctx, Action.ADMIN)
        return delete_unless_used(svc, p.model, p.kind, profile_id, p.in_use(profile_id))

    # The bodies are typed for mypy as RequestBody; FastAPI validates against the
    # kind's own models, set here as the annotations it reads.
    create_profile.__annotations__["body"], update_profile.__annotations__["body"] = _bodies(p)
    one = f"{p.path}/{{profile_id}}"
    router.add_api_route(p.path, list_profiles, methods=["GET"], name=f"list_{p.collection}")
    router.add_api_route(one, show_profile, methods=["GET"], name=f"show_{p.key}")
    router.add_api_route(p.path, create_profile, methods=["POST"], status_code=201,
                         name=f"create_{p.key}")
    router.add_api_route(one, update_profile, methods=["PUT"], name=f"update_{p.key}")
    router.add_api_route(one, delete_profile, methods=["DELETE"], status_code=204,
                         name=f"delete_{p.key}")
