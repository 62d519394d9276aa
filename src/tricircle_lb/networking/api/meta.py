"""Discovery and project-wide resources: versions, extensions, zones, quotas."""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import NotFound
from tricircle_lb.networking import schemas

Body = dict[str, Any]

EXTENSIONS: list[tuple[str, str, str]] = [
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("network_availability_zone", "Network Availability Zone",
     "Availability zone support for network."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external "
     "application"),
    ("security-group", "security-group", "The security groups extension."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("port-security", "Port Security", "Provides port security"),
    ("quotas", "Quota management support", "Expose functions for quotas management per "
     "project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage "
     "statistics per project"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("standard-attr-description", "standard-attr-description", "Extension to add "
     "descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display "
     "the revision number of neutron resources."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at "
     "fields to all Neutron resources that have Neutron standard attributes."),
    ("standard-attr-tag", "Tag support for resources with standard attribute",
     "Enables to set tag on resources with standard attribute."),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id "
     "field is enabled."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is "
     "enabled."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute "
     "to Floating IP resource"),
]


def extension(alias: str, name: str, description: str) -> Body:
    return {"alias": alias, "name": name, "description": description, "links": [],
            "updated": "2026-11-25T00:00:00-00:00"}


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def versions(request: Request) -> Body:
        href = str(request.base_url).rstrip("/") + "/v2.0/"
        return {"versions": [{"id": "v2.0", "status": "CURRENT",
                              "links": [{"href": href, "rel": "self"}]}]}

    @router.get("/v2.0", include_in_schema=False)
    @router.get("/v2.0/", include_in_schema=False)
    def resources(request: Request) -> Body:
        base = str(request.base_url).rstrip("/") + "/v2.0/"
        names = [("network", "networks"), ("subnet", "subnets"), ("port", "ports"),
                 ("security_group", "security-groups"),
                 ("security_group_rule", "security-group-rules")]
        return {"resources": [{"name": n, "collection": c,
                               "links": [{"href": base + c, "rel": "self"}]}
                              for n, c in names]}

    @router.get("/v2.0/extensions")
    def extensions(request: Request, ctx: Context = Depends(caller)) -> Body:
        found = [extension(*e) for e in EXTENSIONS] + list(request.app.state.extra_extensions)
        return {"extensions": found}

    @router.get("/v2.0/extensions/{alias}")
    def show_extension(alias: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        for e in [extension(*e) for e in EXTENSIONS] + list(request.app.state.extra_extensions):
            if e["alias"] == alias:
                return {"extension": e}
        raise NotFound(f"Extension with alias {alias} does not exist",
                       kind="ExtensionNotFound")

    @router.get("/v2.0/availability_zones")
    def availability_zones(request: Request, ctx: Context = Depends(caller)) -> Body:
        return {"availability_zones": request.app.state.plugin.availability_zones()}

    @router.get("/v2.0/quotas")
    def list_quotas(request: Request, ctx: Context = Depends(caller)) -> Any:
        return request.app.state.quotas.list(ctx)

    @router.get("/v2.0/quotas/{project_id}/default")
    def default_quota(project_id: str, request: Request, ctx: Context = Depends(caller)) -> Any:
        return request.app.state.quotas.default(ctx, project_id)

    @router.get("/v2.0/quotas/{project_id}/details")
    @router.get("/v2.0/quotas/{project_id}/details.json", include_in_schema=False)
    def quota_details(project_id: str, request: Request, ctx: Context = Depends(caller)) -> Any:
        return request.app.state.quotas.details(ctx, project_id)

    @router.get("/v2.0/quotas/{project_id}")
    def show_quota(project_id: str, request: Request, ctx: Context = Depends(caller)) -> Any:
        return request.app.state.quotas.show(ctx, project_id)

    @router.put("/v2.0/quotas/{project_id}")
    def update_quota(project_id: str, body: schemas.QuotaUpdateBody, request: Request,
                     ctx: Context = Depends(caller)) -> Any:
        changes = body.quota.model_dump(exclude_none=True)
        return request.app.state.quotas.update(ctx, project_id, changes)

    @router.delete("/v2.0/quotas/{project_id}", status_code=204)
    def reset_quota(project_id: str, request: Request, ctx: Context = Depends(caller)) -> Response:
        request.app.state.quotas.reset(ctx, project_id)
        return Response(status_code=204)

    return router
