"""Octavia's flavor model: ``/v2/lbaas/flavorprofiles`` (admin),
``/v2/lbaas/flavors`` (admin writes, any member or reader reads) and the
amphora provider's ``flavor_capabilities``.

An operator writes a flavor profile (a provider and its settings as JSON text)
and a flavor pointing at it; users pick the flavor at ``loadbalancer create``.
The one setting this provider takes is ``loadbalancer_topology``; a load
balancer created without a flavor gets the configuration's ``default_topology``
(:func:`resolve_flavor`).
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, Field
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.loadbalancer.api._profiles import (
    ProfileKind,
    add_profile_routes,
    delete_unless_used,
    get_or_404,
    refuse_nulls,
    used_by_load_balancers,
    uuid_text,
)
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    Description,
    Name,
    RequestBody,
    ServicesDep,
    authorize,
    list_response,
    show,
)
from tricircle_lb.loadbalancer.errors import invalid_option, unsupported_option
from tricircle_lb.loadbalancer.models import Flavor, FlavorProfile, LoadBalancer

__all__ = ["PROVIDERS", "TOPOLOGIES", "capabilities", "provider_name", "resolve_flavor",
           "router"]

router = APIRouter(prefix="/v2/lbaas")

# "octavia" is the name Octavia's default provider answered to before "amphora".
PROVIDERS = {"amphora": "amphora", "octavia": "amphora"}
TOPOLOGIES = ("SINGLE", "ACTIVE_STANDBY")
TOPOLOGY = "loadbalancer_topology"
# Octavia's amphora flavor schema, in its order. Only the topology is built here;
# the others are refused in a profile as the provider's unsupported option (501)
# rather than accepted and ignored (decision 081).
FLAVOR_CAPABILITIES = [
    {"name": TOPOLOGY,
     "description": "The load balancer topology. One of: SINGLE - One amphora per load "
                    "balancer. ACTIVE_STANDBY - Two amphora per load balancer."},
    {"name": "compute_flavor", "description": "The compute driver flavor ID."},
    {"name": "amp_image_tag", "description": "The amphora image tag."},
    {"name": "sriov_vip",
     "description": "When true, the VIP port will be created using an SR-IOV VF port."},
    {"name": "allow_member_sriov",
     "description": "When true, users can request a member port be SR-IOV enabled at "
                    "member creation time."},
]
_NOT_BUILT = ("compute_flavor", "amp_image_tag", "sriov_vip", "allow_member_sriov")
PROFILE_KIND = "Flavor profile"
FLAVOR_KIND = "Flavor"


Uuid = Annotated[str, Field(max_length=36), AfterValidator(uuid_text)]


class FlavorCreate(RequestBody):
    name: Name
    description: Description = ""
    enabled: bool = True
    flavor_profile_id: Uuid


class FlavorUpdate(RequestBody):
    name: Name | None = None
    description: Description | None = None
    enabled: bool | None = None


class FlavorCreateRequest(RequestBody):
    flavor: FlavorCreate


class FlavorUpdateRequest(RequestBody):
    flavor: FlavorUpdate


# -- validation shared with load balancer create ----------------------------

def provider_name(requested: str) -> str:
    """The provider's canonical name, or Octavia's 400."""
    if requested not in PROVIDERS:
        raise BadRequest(f"Provider '{requested}' is not enabled.")
    return PROVIDERS[requested]


def parse_flavor_data(text: str, provider: str) -> tuple[str, dict[str, Any]]:
    """The canonical provider and the settings of a flavor profile, checked in
    Octavia's order: the JSON (400), the provider (400), then what the provider
    supports (501, Octavia's ``ProviderUnsupportedOptionError``)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        raise BadRequest(f"{text} is not a valid option for flavor_data") from None
    canonical = provider_name(provider)
    problem = _unsupported(data)
    if problem:
        raise unsupported_option(problem, canonical)
    settings: dict[str, Any] = data
    return canonical, settings


def _unsupported(data: Any) -> str | None:
    """Why ``data`` is not a valid amphora flavor, in the words of the JSON
    schema Octavia validates it with."""
    if not isinstance(data, dict):
        return f"{data!r} is not of type 'object'"
    unknown = sorted(set(data) - {cap["name"] for cap in FLAVOR_CAPABILITIES})
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        return f"Additional properties are not allowed ({names} {verb} unexpected)"
    if TOPOLOGY in data and data[TOPOLOGY] not in TOPOLOGIES:
        return f"{TOPOLOGY} {data[TOPOLOGY]!r} is not one of {list(TOPOLOGIES)}"
    for name in _NOT_BUILT:
        if name in data:
            return f"{name} is not supported by this deployment's amphora provider"
    return None


def resolve_flavor(session: Session, flavor_id: str | None, provider: str | None,
                   default_topology: str) -> tuple[str, str]:
    """(provider, topology) of a new load balancer: the flavor's, else the
    requested provider's (or ``amphora``) and ``default_topology``. A missing
    or disabled flavor, or one of another provider, is Octavia's 400."""
    if flavor_id is None:
        return provider_name(provider or "amphora"), default_topology
    flavor = session.get(Flavor, flavor_id)
    if flavor is None:
        raise invalid_option("Invalid flavor_id.")
    # Re-checked as Octavia does: the provider may have stopped supporting it.
    own, settings = parse_flavor_data(flavor.flavor_profile.flavor_data,
                                      flavor.flavor_profile.provider_name)
    if provider is not None and provider_name(provider) != own:
        raise BadRequest(f"Flavor '{flavor_id}' is not compatible with provider '{provider}'")
    if not flavor.enabled:
        raise BadRequest(f"The selected flavor is not allowed in this deployment: {flavor_id}")
    return own, str(settings.get(TOPOLOGY, default_topology))


# -- provider capabilities --------------------------------------------------

@router.get("/providers/{provider}/flavor_capabilities")
def flavor_capabilities(provider: str, request: Request, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    provider_name(provider)
    return {"flavor_capabilities": capabilities(request, FLAVOR_CAPABILITIES)}


def capabilities(request: Request, caps: list[dict[str, str]]) -> list[dict[str, str]]:
    """A provider's capabilities filtered by ``name``/``description`` and cut to
    ``fields``, as Octavia's provider controller answers."""
    wanted = {k: v for k, v in request.query_params.items() if k in ("name", "description")}
    fields = [f for value in request.query_params.getlist("fields")
              for f in value.split(",") if f]
    return [{k: v for k, v in cap.items() if not fields or k in fields}
            for cap in caps if all(cap[k] == v for k, v in wanted.items())]


# -- flavor profiles ----------------------------------------------------------

PROFILES = ProfileKind(
    model=FlavorProfile, kind=PROFILE_KIND, key="flavorprofile", collection="flavorprofiles",
    path="/flavorprofiles", data="flavor_data", used_by=Flavor.flavor_profile_id,
    check=lambda text, provider, _svc: parse_flavor_data(text, provider), name_type=Name)
add_profile_routes(router, PROFILES)


# -- flavors ----------------------------------------------------------------

def flavor_view(flavor: Flavor) -> dict[str, Any]:
    return {"id": flavor.id, "name": flavor.name, "description": flavor.description,
            "enabled": flavor.enabled, "flavor_profile_id": flavor.flavor_profile_id}


def _claim_name(session: Session, name: str, flavor_id: str) -> None:
    """409 in Octavia's words when another flavor has ``name``."""
    if session.scalar(select(exists().where(Flavor.name == name, Flavor.id != flavor_id))):
        raise _name_taken(name)


def _flush_named(session: Session, name: str) -> None:
    # The unique constraint decides between concurrent writers.
    try:
        session.flush()
    except IntegrityError:
        raise _name_taken(name) from None


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A flavor of {name} already exists.")


@router.get("/flavors")
def list_flavors(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        views = [flavor_view(f) for f in session.scalars(select(Flavor)).all()]
    return list_response(request, "flavors", views)


@router.get("/flavors/{flavor_id}")
def show_flavor(flavor_id: str, request: Request, ctx: CallerDep,
                svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        flavor = get_or_404(session, Flavor, FLAVOR_KIND, flavor_id)
        return show(request, "flavor", flavor_view(flavor))


@router.post("/flavors", status_code=201)
def create_flavor(body: FlavorCreateRequest, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    req = body.flavor
    with svc.db.write() as session:
        if session.get(FlavorProfile, req.flavor_profile_id) is None:
            raise invalid_option(f"{PROFILE_KIND} {req.flavor_profile_id} could not be found.")
        flavor = Flavor(id=str(uuid.uuid4()), name=req.name, description=req.description,
                        enabled=req.enabled, flavor_profile_id=req.flavor_profile_id)
        _claim_name(session, flavor.name, flavor.id)
        session.add(flavor)
        _flush_named(session, flavor.name)
        return {"flavor": flavor_view(flavor)}


@router.put("/flavors/{flavor_id}")
def update_flavor(flavor_id: str, body: FlavorUpdateRequest, ctx: CallerDep,
                  svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    changes = body.flavor.model_dump(exclude_unset=True)
    refuse_nulls(changes)
    with svc.db.write() as session:
        flavor = get_or_404(session, Flavor, FLAVOR_KIND, flavor_id)
        if "name" in changes:
            _claim_name(session, changes["name"], flavor_id)
        for name, value in changes.items():
            setattr(flavor, name, value)
        _flush_named(session, flavor.name)
        return {"flavor": flavor_view(flavor)}


@router.delete("/flavors/{flavor_id}", status_code=204)
def delete_flavor(flavor_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.ADMIN)
    return delete_unless_used(svc, Flavor, FLAVOR_KIND, flavor_id,
                              used_by_load_balancers(LoadBalancer.flavor_id, flavor_id))
