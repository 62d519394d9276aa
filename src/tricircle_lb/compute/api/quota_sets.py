"""``/v2.1/os-quota-sets``: Nova's per-project quotas (``openstack quota show|set``).

A project reads its own quotas, an admin any project's and sets or resets
them. Values are integers from -1 (unlimited); a limit below what the project
already uses is refused unless ``force`` is given, as in Nova.
"""

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest, Forbidden
from tricircle_lb.compute import policy, quotas
from tricircle_lb.compute.microversions import Version, requested

Json = dict[str, Any]


def _visible(ctx: Context, project_id: str) -> None:
    if not (ctx.is_admin or ctx.project_id == project_id):
        raise Forbidden("Policy doesn't allow os_compute_api:os-quota-sets:show to be "
                        "performed.")


def _keys(values: dict[str, int], version: Version) -> dict[str, int]:
    """The keys Nova shows at ``version`` (older ones list more, never enforced here)."""
    shown = dict(values)
    if version < (2, 57):
        shown.update(quotas.BEFORE_2_57)
    if version < (2, 36):
        shown.update(quotas.BEFORE_2_36)
    return shown


def _valid(body: Json, version: Version) -> tuple[dict[str, int], bool]:
    quota_set = body.get("quota_set") if isinstance(body, dict) else None
    if not isinstance(quota_set, dict):
        raise BadRequest("Invalid input for field/attribute quota_set.")
    known = set(_keys({**quotas.ENFORCED, **quotas.REPORTED}, version)) | {"force"}
    unknown = sorted(set(quota_set) - known)
    if unknown:
        raise BadRequest("Invalid input for field/attribute quota_set. Value: "
                         f"{quota_set}. Additional properties are not allowed "
                         f"({', '.join(repr(k) for k in unknown)} "
                         f"{'was' if len(unknown) == 1 else 'were'} unexpected)")
    force = quota_set.get("force", False)
    values: dict[str, int] = {}
    for key, value in quota_set.items():
        if key == "force":
            continue
        if isinstance(value, bool) or not isinstance(value, int | str) or \
                not str(value).lstrip("-").isdigit() or int(value) < -1:
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}. "
                             f"{value!r} is not valid under any of the given schemas")
        values[key] = int(value)
    return values, force in (True, "true", "True")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v2.1/os-quota-sets")

    @router.get("/{project_id}/defaults")
    def defaults(project_id: str, ctx: Context = Depends(caller),
                 version: Version = Depends(requested)) -> Json:
        return {"quota_set": {"id": project_id, **_keys(
            {**quotas.ENFORCED, **quotas.REPORTED}, version)}}

    @router.get("/{project_id}/detail")
    def detail(project_id: str, request: Request, ctx: Context = Depends(caller),
               version: Version = Depends(requested)) -> Json:
        _visible(ctx, project_id)
        with request.app.state.db.read() as session:
            allowed = _keys(quotas.limits(session, project_id), version)
            used = quotas.usage(session, project_id)
        return {"quota_set": {"id": project_id, **{
            key: {"limit": limit, "in_use": used.get(key, 0), "reserved": 0}
            for key, limit in allowed.items()}}}

    @router.get("/{project_id}")
    def show(project_id: str, request: Request, ctx: Context = Depends(caller),
             version: Version = Depends(requested)) -> Json:
        _visible(ctx, project_id)
        with request.app.state.db.read() as session:
            return {"quota_set": {"id": project_id,
                                  **_keys(quotas.limits(session, project_id), version)}}

    @router.put("/{project_id}")
    def update(project_id: str, request: Request, body: Json = Body(...),
               ctx: Context = Depends(caller),
               version: Version = Depends(requested)) -> Json:
        policy.enforce_admin(ctx, "os_compute_api:os-quota-sets:update")
        values, force = _valid(body, version)
        with request.app.state.db.write() as session:
            used = quotas.usage(session, project_id)
            for key, limit in values.items():
                if not force and limit != quotas.UNLIMITED and used.get(key, 0) > limit:
                    raise BadRequest(f"Quota limit {limit} for {key} must be greater than "
                                     f"or equal to already used and reserved "
                                     f"{used[key]}.")
            quotas.update(session, project_id,
                          {k: v for k, v in values.items()
                           if k in quotas.ENFORCED or k in quotas.REPORTED})
            return {"quota_set": _keys(quotas.limits(session, project_id), version)}

    @router.delete("/{project_id}", status_code=202)
    def reset(project_id: str, request: Request, ctx: Context = Depends(caller)) -> Response:
        policy.enforce_admin(ctx, "os_compute_api:os-quota-sets:delete")
        with request.app.state.db.write() as session:
            quotas.reset(session, project_id)
        return Response(status_code=202)

    return router
