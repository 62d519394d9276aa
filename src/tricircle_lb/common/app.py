"""What every API service's FastAPI application has in common.

- request ids (``X-Openstack-Request-Id``) in and out, and in every log line;
- Prometheus metrics at ``/metrics`` (request count and latency per route);
- ``/healthcheck`` for the launcher and load balancers in front;
- the caller's :class:`Context` from ``X-Auth-Token`` as a dependency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from tricircle_lb.common import request_id
from tricircle_lb.common.auth import TokenValidator
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Unauthorized

LOG = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class ApiMetrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tricircle_api_requests", "API requests handled",
            ["service", "method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "tricircle_api_request_seconds", "API request latency",
            ["service", "method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.service = service


class RequestMiddleware:
    """Pure ASGI (so context variables reach the handlers): request id, metrics, access log."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        rid = request_id.accept(headers.get(request_id.HEADER.lower()))
        token = request_id.current.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (request_id.HEADER.encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            m = self.metrics
            m.requests.labels(m.service, method, template, str(status)).inc()
            m.latency.labels(m.service, method, template).observe(elapsed)
            LOG.info("%s %s %s %.1fms", method, scope.get("path"), status, elapsed * 1000,
                     extra={"fields": {"method": method, "path": scope.get("path"),
                                       "status": status, "ms": round(elapsed * 1000, 1)}})
            request_id.current.reset(token)


def create_app(service: str, title: str, validator: TokenValidator | None,
               lifespan: Lifespan | None = None) -> FastAPI:
    """A FastAPI app with the common middleware and the health and metrics routes.

    ``lifespan`` starts and stops what runs beside the API (job workers …).
    """
    app = FastAPI(title=title, docs_url=None, redoc_url=None, lifespan=lifespan)
    metrics = ApiMetrics(service)
    app.state.metrics = metrics
    app.state.validator = validator
    app.add_middleware(RequestMiddleware, metrics=metrics)

    @app.get("/healthcheck", include_in_schema=False)
    def healthcheck() -> Response:
        return Response("OK", media_type="text/plain")

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def caller(request: Request) -> Context:
    """FastAPI dependency: the authenticated caller, or 401."""
    token = request.headers.get("X-Auth-Token")
    if not token:
        raise Unauthorized("The request you have made requires authentication.")
    validator: TokenValidator = request.app.state.validator
    return validator.validate(token)
