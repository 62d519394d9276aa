"""Nova's and Glance's error formats, and the one place errors become them.

Nova: ``{"itemNotFound": {"code": 404, "message": "…"}}`` with the fault name
chosen by status, as ``nova.api.openstack.wsgi.Fault`` does; anything that is
not a known status is a ``computeFault``. Glance (paths under ``/image``):
``{"code": "404 Not Found", "title": "Not Found", "message": "…"}``, the
JSON form of webob's error pages. Errors of this service::

    ApiError (common)
    ├── BadRequest / Unauthorized / Forbidden / NotFound / Conflict (common)
    └── NotAcceptable     406 (a microversion outside the supported range)
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tricircle_lb.common.errors import ApiError

LOG = logging.getLogger(__name__)

FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
               415: "badMediaType", 429: "overLimit", 501: "notImplemented",
               503: "serviceUnavailable"}


class NotAcceptable(ApiError):
    status_code = 406


def nova_body(status: int, message: str) -> dict[str, Any]:
    return {FAULT_NAMES.get(status, "computeFault"): {"code": status, "message": message}}


def glance_body(status: int, message: str) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    return {"code": f"{status} {phrase}", "title": phrase, "message": message}


def error_response(request_path: str, status: int, message: str) -> JSONResponse:
    if request_path == "/image" or request_path.startswith("/image/"):
        return JSONResponse(glance_body(status, message), status_code=status)
    return JSONResponse(nova_body(status, message), status_code=status)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request.url.path, exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request.url.path, 400, describe_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "The resource could not be found." if exc.status_code == 404 \
            else str(exc.detail)
        return error_response(request.url.path, exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOG.exception("unexpected error")
        return error_response(request.url.path, 500,
                              "Unexpected API Error. Please report this at "
                              "http://bugs.launchpad.net/nova/ and attach the Nova API log "
                              "if possible.")


def describe_validation(errors: Any) -> str:
    """Nova's jsonschema wording for Pydantic's errors (the first one is enough)."""
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        kind = err.get("type", "")
        named = [p for p in loc if not p.isdigit()]
        field = named[-1] if named else "body"
        if kind == "json_invalid":
            return "Malformed request body"
        if kind == "extra_forbidden":
            return f"Additional properties are not allowed ('{field}' was unexpected)"
        if kind == "missing":
            return f"Invalid input for field/attribute {named[-2] if len(named) > 1 else 'body'}."\
                   f" Value: None. '{field}' is a required property"
        if kind == "model_attributes_type" and not named:
            return "The request body is not a JSON object."
        value = err.get("input")
        return (f"Invalid input for field/attribute {field}. Value: {value!r}. "
                f"{err.get('msg', 'invalid')}")
    return "Invalid request."
