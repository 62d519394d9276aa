"""Identity's errors and their one mapping to Keystone's wire format.

Handlers raise the common :class:`~tricircle_lb.common.errors.ApiError` tree
(``NotFound``, ``Conflict`` …); this module turns each into::

    {"error": {"code": 404, "title": "Not Found", "message": "Could not find project: x."}}

FastAPI's request validation errors become 400 (never 422) and unknown routes
or methods keep their 404/405 in the same shape.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tricircle_lb.common.errors import ApiError, BadRequest, Conflict, NotFound

LOG = logging.getLogger(__name__)


def not_found(kind: str, ident: str) -> NotFound:
    """Keystone's message: ``Could not find project: abc.``"""
    return NotFound(f"Could not find {kind}: {ident}.",
                    kind=f"{kind.title().replace(' ', '')}NotFound")


def duplicate(kind: str, detail: str) -> Conflict:
    return Conflict(f"Conflict occurred attempting to store {kind} - {detail}.")


def invalid(message: str) -> BadRequest:
    return BadRequest(message, kind="ValidationError")


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = {"error": {"code": status, "title": title, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    field = ".".join(loc)
    if error.get("type") == "json_invalid":
        return "Malformed request body: the body is not valid JSON."
    if error.get("type") == "missing":
        return f"Invalid input for field '{field}': '{loc[-1] if loc else field}' is a " \
               "required property"
    if error.get("type") == "extra_forbidden":
        return f"Invalid input for field '{field}': Additional properties are not allowed."
    where = f"field '{field}'" if field else "the request body"
    return f"Invalid input for {where}: {error.get('msg', 'invalid value')}"


def install(app: FastAPI) -> None:
    """Register the handlers that give every error Keystone's shape."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = None
        if exc.status_code == 401:
            headers = {"WWW-Authenticate": f'Keystone uri="{request.base_url}v3"'}
        return error_response(exc.status_code, exc.message, headers)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        message = _describe(errors[0]) if errors else "Invalid request."
        return error_response(400, message)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404:
            message = "The resource could not be found."
        return error_response(exc.status_code, message, dict(exc.headers or {}) or None)

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        LOG.exception("unexpected error: %s", exc)
        return error_response(500, "An unexpected error prevented the server from "
                                   "fulfilling your request.")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
