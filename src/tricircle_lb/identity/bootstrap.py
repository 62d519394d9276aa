"""What ``keystone-manage bootstrap`` creates, idempotently, at every start.

Domain ``default``; roles ``admin`` → ``member`` → ``reader`` (each implies the
next); projects ``admin``, ``service`` and ``demo``; the admin user with
``admin`` on the admin project; when ``bootstrap_public_url`` (and friends) are
set, the ``identity`` service with its endpoints in ``bootstrap_region_id``, so
the ``openstack`` CLI finds identity in the catalog. Running it again changes
nothing, except the admin password when the configuration file's has changed
(and then the admin's old tokens are revoked) and endpoint URLs that changed.
"""

from __future__ import annotations

import itertools
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tricircle_lb.db.engine import Database
from tricircle_lb.identity import store
from tricircle_lb.identity.config import IdentityConfig
from tricircle_lb.identity.models import (
    Assignment,
    Domain,
    Endpoint,
    ImpliedRole,
    Project,
    Region,
    Role,
    Service,
    Token,
    User,
)
from tricircle_lb.identity.passwords import hash_password, verify_password

LOG = logging.getLogger(__name__)

DEFAULT_DOMAIN_ID = "default"
ROLE_CHAIN = ("admin", "member", "reader")
PROJECTS = ("service", "demo")


def _role(session: Session, name: str) -> Role:
    role = session.scalars(select(Role).where(Role.name == name)).first()
    if role is None:
        role = Role(id=store.new_id(), name=name, description="", extra={})
        session.add(role)
        session.flush()
        LOG.info("bootstrap: created role %s", name)
    return role


def _project(session: Session, name: str) -> Project:
    project = session.scalars(select(Project).where(
        Project.domain_id == DEFAULT_DOMAIN_ID, Project.name == name)).first()
    if project is None:
        project = Project(id=store.new_id(), name=name, domain_id=DEFAULT_DOMAIN_ID,
                          description="Bootstrap project", enabled=True, tags=[], extra={})
        session.add(project)
        session.flush()
        LOG.info("bootstrap: created project %s", name)
    return project


def _identity_endpoints(session: Session, config: IdentityConfig) -> None:
    urls = config.bootstrap_urls()
    if not urls:
        return
    region_id = config.bootstrap_region_id or None
    if region_id and session.get(Region, region_id) is None:
        session.add(Region(id=region_id, description="", extra={}))
        session.flush()
    service = session.scalars(select(Service).where(Service.type == "identity")).first()
    if service is None:
        service = Service(id=store.new_id(), type="identity", name="keystone",
                          description="Identity Service", enabled=True, extra={})
        session.add(service)
        session.flush()
    for interface, url in urls.items():
        endpoint = session.scalars(select(Endpoint).where(
            Endpoint.service_id == service.id, Endpoint.interface == interface,
            Endpoint.region_id == region_id if region_id else Endpoint.region_id.is_(None),
        )).first()
        if endpoint is None:
            session.add(Endpoint(id=store.new_id(), interface=interface, service_id=service.id,
                                 region_id=region_id, url=url, enabled=True, extra={}))
            LOG.info("bootstrap: created %s identity endpoint %s", interface, url)
        elif endpoint.url != url:
            endpoint.url = url
            LOG.info("bootstrap: updated %s identity endpoint to %s", interface, url)


def bootstrap(db: Database, config: IdentityConfig) -> None:
    with db.write() as session:
        if session.get(Domain, DEFAULT_DOMAIN_ID) is None:
            session.add(Domain(id=DEFAULT_DOMAIN_ID, name="Default",
                               description="The default domain", enabled=True, extra={}))
            session.flush()
        roles = [_role(session, name) for name in ROLE_CHAIN]
        for prior, implied in itertools.pairwise(roles):
            if session.get(ImpliedRole, (prior.id, implied.id)) is None:
                session.add(ImpliedRole(prior_role_id=prior.id, implied_role_id=implied.id))
        admin_project = _project(session, config.bootstrap_project)
        for name in PROJECTS:
            _project(session, name)
        user = session.scalars(select(User).where(
            User.domain_id == DEFAULT_DOMAIN_ID,
            User.name == config.bootstrap_admin_user)).first()
        if user is None:
            user = User(id=store.new_id(), name=config.bootstrap_admin_user,
                        domain_id=DEFAULT_DOMAIN_ID, enabled=True,
                        default_project_id=admin_project.id, description="",
                        password_hash=hash_password(config.bootstrap_admin_password), extra={})
            session.add(user)
            session.flush()
            LOG.info("bootstrap: created user %s", user.name)
        elif not verify_password(user.password_hash, config.bootstrap_admin_password):
            user.password_hash = hash_password(config.bootstrap_admin_password)
            session.execute(update(Token).where(Token.user_id == user.id).values(revoked=True))
            LOG.info("bootstrap: updated the password of %s", user.name)
        _identity_endpoints(session, config)
        key = (user.id, store.PROJECT, admin_project.id, roles[0].id)
        if session.get(Assignment, key) is None:
            session.add(Assignment(user_id=user.id, target_type=store.PROJECT,
                                   target_id=admin_project.id, role_id=roles[0].id))
