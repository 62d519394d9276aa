"""Routes of the compute service: Nova under ``/v2.1``, Glance under ``/image``."""

from fastapi import Request

from tricircle_lb.compute.servers import ComputeService


def service_of(request: Request) -> ComputeService:
    result: ComputeService = request.app.state.compute
    return result


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
