"""Octavia's errors, and the one place every error becomes Octavia's fault format.

``{"faultcode": "Client" | "Server", "faultstring": "…", "debuginfo": null}``

The common :class:`~tricircle_lb.common.errors.ApiError` tree is the only
thing handlers raise; the helpers below word it as Octavia does.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tricircle_lb.common.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
)
from tricircle_lb.loadbalancer.drivers.network import (
    NetworkError,
    NetworkNotFound,
    NetworkRefused,
)

LOG = logging.getLogger(__name__)
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

POLICY_TEXT = "Policy does not allow this request to be performed."


def not_found(kind: str, object_id: str) -> NotFound:
    """``<Kind> <id> not found.`` (kind as Octavia prints it: "Load Balancer")."""
    return NotFound(f"{kind} {object_id} not found.")


def immutable(lb_id: str) -> Conflict:
    return Conflict(f"Load Balancer {lb_id} is immutable and cannot be updated.")


def invalid_option(message: str) -> BadRequest:
    """Octavia's ``ValidationException``."""
    return BadRequest(f"Validation failure: {message}")


def not_a_valid_option(value: object, option: str) -> BadRequest:
    """Octavia's ``InvalidOption``: ``<value> is not a valid option for <option>``."""
    return BadRequest(f"{value} is not a valid option for {option}")


class NotImplementedByProvider(ApiError):
    """501: the provider driver refused an option or an action (Octavia's
    ``ProviderUnsupportedOptionError`` / ``ProviderNotImplementedError``)."""

    status_code = 501


def unsupported_option(detail: str, provider: str = "amphora") -> NotImplementedByProvider:
    return NotImplementedByProvider(
        f"Provider '{provider}' does not support a requested option: {detail}")


def unsupported_action(detail: str, provider: str = "amphora") -> NotImplementedByProvider:
    return NotImplementedByProvider(
        f"Provider '{provider}' does not support a requested action: {detail}")


def forbidden() -> Forbidden:
    return Forbidden(POLICY_TEXT)


def from_network(exc: NetworkError, what: str = "") -> ApiError:
    """A networking failure as the API reports it: a missing ``what`` ("Subnet
    <id>") is the caller's mistake (400 ``Subnet <id> not found.``, Octavia's
    ``InvalidSubresource``), a refusal keeps networking's words (400),
    anything else is a 503."""
    if isinstance(exc, NetworkNotFound):
        return BadRequest(f"{what} not found." if what else str(exc))
    if isinstance(exc, NetworkRefused):
        return BadRequest(str(exc))
    return ServiceUnavailable(f"The networking service is unavailable: {exc}")


def fault(status_code: int, message: str) -> JSONResponse:
    code = "Server" if status_code >= 500 else "Client"
    return JSONResponse({"faultcode": code, "faultstring": message, "debuginfo": None},
                        status_code=status_code)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return fault(exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return fault(400, describe_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        texts = {404: "The resource could not be found.",
                 405: "The method is not allowed for the requested URL."}
        return fault(exc.status_code, texts.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        LOG.exception("unexpected error")
        return fault(500, "Internal Server Error")


def describe_validation(errors: Any) -> str:
    """One sentence from Pydantic's errors, in wsme's words (what Octavia answers)."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        kind = err.get("type", "")
        # Attribute names only: not list indexes nor pydantic's union member tags.
        named = [p for p in loc if _ATTRIBUTE.fullmatch(p)]
        field = named[-1] if named else "body"
        if kind == "json_invalid":
            return "Invalid input: the request body is not valid JSON."
        if kind == "extra_forbidden":
            owner = named[-2] if len(named) > 1 else "body"
            parts.append(f"Unknown attribute for argument {owner}: {field}")
        elif kind == "missing" and len(named) <= 1:
            parts.append(f"Missing argument: \"{field}\"")
        elif kind == "missing":
            parts.append(f"Invalid input for field/attribute {field}. "
                         f"Value: 'None'. Mandatory field missing.")
        else:
            value = err.get("input")
            shown = value if isinstance(value, str | int | float | bool) else "…"
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"Invalid input for field/attribute {field}. Value: '{shown}'. "
                         f"{message}")
    return " ".join(parts) or "Invalid input."
