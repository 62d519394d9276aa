"""The root of every error a service raises on purpose.

Each service maps this tree once, at its API edge, to its own wire format
(Keystone's ``{"error": …}``, Neutron's ``{"NeutronError": …}``, Octavia's
``{"faultcode": …}``)::

    ApiError
    ├── BadRequest            400
    ├── Unauthorized          401
    ├── Forbidden             403
    ├── NotFound              404
    ├── Conflict              409
    └── ServiceUnavailable    503 (a peer service could not be reached)
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with an HTTP status and a machine-readable type name.

    ``kind`` is what the wire format calls the error type (``NetworkNotFound``,
    ``IpAddressAlreadyAllocated`` …); it defaults to the class name.
    """

    status_code = 500

    def __init__(self, message: str, *, kind: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind or type(self).__name__
        self.detail = detail


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class ServiceUnavailable(ApiError):
    status_code = 503
