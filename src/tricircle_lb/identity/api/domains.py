"""``/v3/domains``: the ``default`` domain and any the administrator adds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from sqlalchemy import select

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Forbidden
from tricircle_lb.identity import policy, store
from tricircle_lb.identity.api.common import (
    IdentityState,
    extra_of,
    flag,
    list_links,
    self_link,
    state,
    with_extra,
)
from tricircle_lb.identity.errors import duplicate
from tricircle_lb.identity.models import Domain, Project, User

router = APIRouter(prefix="/v3/domains")

Name = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name
    description: StrictStr | None = None
    enabled: StrictBool = True


class DomainUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name | None = None
    description: StrictStr | None = None
    enabled: StrictBool | None = None


class DomainCreateRequest(BaseModel):
    domain: DomainCreate


class DomainUpdateRequest(BaseModel):
    domain: DomainUpdate


def domain_view(request: Request, domain: Domain) -> dict[str, Any]:
    return with_extra(domain.extra, {
        "id": domain.id, "name": domain.name, "description": domain.description,
        "enabled": domain.enabled, "tags": [], "options": {},
        "links": self_link(request, f"domains/{domain.id}"),
    })


@router.post("", status_code=201)
def create_domain(request: Request, body: DomainCreateRequest, ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_domain")
    spec = body.domain
    with st.db.write() as session:
        if session.scalars(select(Domain).where(Domain.name == spec.name)).first():
            raise duplicate("domain", f"Duplicate entry found with name {spec.name}")
        domain = Domain(id=store.new_id(), name=spec.name, description=spec.description or "",
                        enabled=spec.enabled, extra=extra_of(spec))
        session.add(domain)
        session.flush()
        return {"domain": domain_view(request, domain)}


@router.get("")
def list_domains(request: Request, name: str | None = None, enabled: str | None = None,
                 ctx: Context = Depends(caller),
                 st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_domains")
    query = select(Domain).order_by(Domain.name)
    if name is not None:
        query = query.where(Domain.name == name)
    if flag(enabled) is not None:
        query = query.where(Domain.enabled.is_(flag(enabled)))
    with st.db.read() as session:
        return {"domains": [domain_view(request, d) for d in session.scalars(query)],
                "links": list_links(request)}


@router.get("/{domain_id}")
def show_domain(request: Request, domain_id: str, ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "get_domain", owner=ctx.domain_id == domain_id)
    with st.db.read() as session:
        return {"domain": domain_view(request, store.get(session, Domain, domain_id, "domain"))}


@router.patch("/{domain_id}")
def update_domain(request: Request, domain_id: str, body: DomainUpdateRequest,
                  ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "update_domain")
    spec = body.domain
    with st.db.write() as session:
        domain = store.get(session, Domain, domain_id, "domain")
        if spec.name is not None and spec.name != domain.name:
            if session.scalars(select(Domain).where(Domain.name == spec.name)).first():
                raise duplicate("domain", f"Duplicate entry found with name {spec.name}")
            domain.name = spec.name
        if spec.description is not None:
            domain.description = spec.description
        if spec.enabled is not None:
            domain.enabled = spec.enabled
        domain.extra = extra_of(spec, domain.extra, {"id": domain.id})
        session.flush()
        return {"domain": domain_view(request, domain)}


@router.delete("/{domain_id}", status_code=204)
def delete_domain(domain_id: str, ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "delete_domain")
    with st.db.write() as session:
        domain = store.get(session, Domain, domain_id, "domain")
        if domain.enabled:
            raise Forbidden("Cannot delete a domain that is enabled, please disable it "
                            "first.")
        in_use = (session.scalars(select(Project.id).where(Project.domain_id == domain.id))
                  .first() or session.scalars(select(User.id).where(
                      User.domain_id == domain.id)).first())
        if in_use:
            raise Forbidden(f"Cannot delete domain {domain.id}: it still owns projects "
                            "or users.")
        session.delete(domain)
    return Response(status_code=204)
