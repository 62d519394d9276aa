"""``/v3/projects`` and ``/v3/users/{id}/projects``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

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
from tricircle_lb.identity.errors import duplicate, invalid
from tricircle_lb.identity.models import Assignment, Domain, Project, User

router = APIRouter(prefix="/v3")

Name = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Tag = Annotated[StrictStr, Field(min_length=1, max_length=255)]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name
    domain_id: StrictStr | None = None
    parent_id: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool = True
    is_domain: StrictBool = False
    tags: Annotated[list[Tag], Field(max_length=80)] = []


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name | None = None
    description: StrictStr | None = None
    enabled: StrictBool | None = None
    tags: Annotated[list[Tag], Field(max_length=80)] | None = None


class ProjectCreateRequest(BaseModel):
    project: ProjectCreate


class ProjectUpdateRequest(BaseModel):
    project: ProjectUpdate


def project_view(request: Request, project: Project) -> dict[str, Any]:
    return with_extra(project.extra, {
        "id": project.id,
        "name": project.name,
        "domain_id": project.domain_id,
        "parent_id": project.parent_id or project.domain_id,
        "description": project.description,
        "enabled": project.enabled,
        "is_domain": False,
        "tags": list(project.tags),
        "options": {},
        "links": self_link(request, f"projects/{project.id}"),
    })


def _check_unique(session: Session, domain_id: str, name: str, own_id: str = "") -> None:
    clash = session.scalars(select(Project).where(
        Project.domain_id == domain_id, Project.name == name, Project.id != own_id)).first()
    if clash is not None:
        raise duplicate("project", "it is not permitted to have two projects with the same "
                                   f"name in the same domain : {name}")


@router.post("/projects", status_code=201)
def create_project(request: Request, body: ProjectCreateRequest,
                   ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_project")
    spec = body.project
    if spec.is_domain:
        raise invalid("Creating projects acting as domains is not supported.")
    with st.db.write() as session:
        domain_id = spec.domain_id or ctx.domain_id or "default"
        parent_id = None
        if spec.parent_id and spec.parent_id != domain_id:
            parent = store.get(session, Project, spec.parent_id, "project")
            domain_id = parent.domain_id
            parent_id = parent.id
        store.get(session, Domain, domain_id, "domain")
        _check_unique(session, domain_id, spec.name)
        project = Project(id=store.new_id(), name=spec.name, domain_id=domain_id,
                          parent_id=parent_id, description=spec.description or "",
                          enabled=spec.enabled, tags=spec.tags, extra=extra_of(spec))
        session.add(project)
        session.flush()
        return {"project": project_view(request, project)}


@router.get("/projects")
def list_projects(request: Request, name: str | None = None, domain_id: str | None = None,
                  enabled: str | None = None, parent_id: str | None = None,
                  ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_projects")
    query = select(Project).order_by(Project.name)
    if name is not None:
        query = query.where(Project.name == name)
    if domain_id is not None:
        query = query.where(Project.domain_id == domain_id)
    if flag(enabled) is not None:
        query = query.where(Project.enabled.is_(flag(enabled)))
    with st.db.read() as session:
        projects = [p for p in session.scalars(query)
                    if parent_id is None or (p.parent_id or p.domain_id) == parent_id]
        return {"projects": [project_view(request, p) for p in projects],
                "links": list_links(request)}


@router.get("/projects/{project_id}")
def show_project(request: Request, project_id: str, ctx: Context = Depends(caller),
                 st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "get_project", owner=ctx.project_id == project_id)
    with st.db.read() as session:
        return {"project": project_view(request, store.get(session, Project, project_id,
                                                           "project"))}


@router.patch("/projects/{project_id}")
def update_project(request: Request, project_id: str, body: ProjectUpdateRequest,
                   ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "update_project")
    spec = body.project
    with st.db.write() as session:
        project = store.get(session, Project, project_id, "project")
        if spec.name is not None:
            _check_unique(session, project.domain_id, spec.name, project.id)
            project.name = spec.name
        if spec.description is not None:
            project.description = spec.description
        if spec.enabled is not None:
            project.enabled = spec.enabled
        if spec.tags is not None:
            project.tags = list(spec.tags)
        project.extra = extra_of(spec, project.extra,
                                 {"id": project.id, "domain_id": project.domain_id})
        session.flush()
        return {"project": project_view(request, project)}


@router.delete("/projects/{project_id}", status_code=204)
def delete_project(project_id: str, ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "delete_project")
    with st.db.write() as session:
        project = store.get(session, Project, project_id, "project")
        if session.scalars(select(Project).where(Project.parent_id == project.id)).first():
            raise Forbidden(f"Cannot delete the project {project.id} since it is not a leaf "
                            "in the hierarchy.")
        session.execute(delete(Assignment).where(
            Assignment.target_type == store.PROJECT, Assignment.target_id == project.id))
        session.delete(project)
    return Response(status_code=204)


@router.get("/users/{user_id}/projects")
def list_user_projects(request: Request, user_id: str, ctx: Context = Depends(caller),
                       st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_user_projects", owner=ctx.user_id == user_id)
    with st.db.read() as session:
        store.get(session, User, user_id, "user")
        ids = store.user_project_ids(session, user_id)
        projects = session.scalars(
            select(Project).where(Project.id.in_(ids)).order_by(Project.name)).all()
        return {"projects": [project_view(request, p) for p in projects],
                "links": list_links(request)}
