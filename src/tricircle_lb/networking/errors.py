"""Neutron's errors, and the one place they become Neutron's wire format.

``{"NeutronError": {"type": "NetworkNotFound", "message": "…", "detail": ""}}``
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tricircle_lb.common.errors import ApiError, BadRequest, Conflict, NotFound

LOG = logging.getLogger(__name__)

NOT_LOCATED = "network not located in current region"


def not_found(resource: str, resource_id: str) -> NotFound:
    """``NetworkNotFound`` and friends, worded as Neutron words them."""
    label = resource.replace("_", " ").title().replace(" ", "")
    words = resource.replace("_", " ")
    return NotFound(f"{words.capitalize()} {resource_id} could not be found.",
                    kind=f"{label}NotFound")


def in_use(resource: str, resource_id: str, why: str = "") -> Conflict:
    label = resource.replace("_", " ").title().replace(" ", "")
    words = resource.replace("_", " ")
    text = f"Unable to complete operation on {words} {resource_id}. "
    text += why or f"There are one or more ports still in use on the {words}."
    return Conflict(text, kind=f"{label}InUse")


def invalid(message: str) -> BadRequest:
    return BadRequest(f"Invalid input for operation: {message}", kind="InvalidInput")


def network_not_located(network_id: str, region: str, home: str) -> BadRequest:
    return BadRequest(
        f"{NOT_LOCATED}: network {network_id} is a local network of {home}, "
        f"not of {region}", kind="NetworkNotLocatedInRegion")


def neutron_body(kind: str, message: str, detail: str = "") -> dict[str, Any]:
    return {"NeutronError": {"type": kind, "message": message, "detail": detail}}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(neutron_body(exc.kind, exc.message, exc.detail),
                            status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(neutron_body("HTTPBadRequest", describe_validation(exc.errors())),
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "HTTPNotFound", 405: "HTTPMethodNotAllowed"}
        kind = kinds.get(exc.status_code, "HTTPError")
        return JSONResponse(neutron_body(kind, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        LOG.exception("unexpected error")
        return JSONResponse(neutron_body("HTTPInternalServerError",
                                         "Request Failed: internal server error while "
                                         "processing your request."), status_code=500)


def describe_validation(errors: Any) -> str:
    """One readable sentence from Pydantic's errors, in Neutron's words where it has them."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        kind = err.get("type", "")
        # The attribute, not a list index (``tags.0`` is about ``tags``).
        named = [p for p in loc if not p.isdigit()]
        field = named[-1] if named else "body"
        if kind == "json_invalid":
            return "Malformed request body: the body is not valid JSON."
        if kind == "extra_forbidden":
            parts.append(f"Unrecognized attribute(s) '{field}'")
        elif kind == "missing" and len(loc) <= 1:
            parts.append(f"Resource body required: '{field}' is missing")
        elif kind == "missing":
            parts.append(f"Failed to parse request. Required attribute '{field}' not specified")
        else:
            parts.append(f"Invalid input for {field}. Reason: {err.get('msg', 'invalid')}.")
    return "; ".join(parts) or "Invalid request."
