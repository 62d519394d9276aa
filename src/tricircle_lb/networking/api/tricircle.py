"""Tricircle's admin API (``/v1.0``): pods, routings and jobs at central; mirror sync in regions."""

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Conflict, NotFound
from tricircle_lb.jobs import JobConflict, JobNotFound
from tricircle_lb.networking import policy, schemas
from tricircle_lb.networking.listing import list_response
from tricircle_lb.networking.models import Job
from tricircle_lb.networking.views import timestamp

Body = dict[str, Any]


def job_view(job: Job) -> Body:
    return {"id": job.id, "type": job.type, "status": job.status,
            "resource": {"resource_id": job.resource_id, **(job.payload or {})},
            "project_id": job.project_id, "attempts": job.attempts,
            "last_error": job.last_error, "timestamp": timestamp(job.updated_at),
            "created_at": timestamp(job.created_at)}


def central_router() -> APIRouter:
    router = APIRouter(prefix="/v1.0")

    @router.get("/pods")
    def list_pods(request: Request, ctx: Context = Depends(caller)) -> Body:
        return {"pods": request.app.state.plugin.list_pods(ctx)}

    @router.post("/pods", status_code=200)
    def create_pod(body: schemas.PodCreateBody, request: Request,
                   ctx: Context = Depends(caller)) -> Body:
        return {"pod": request.app.state.plugin.create_pod(ctx, body.pod)}

    @router.get("/pods/{pod_id}")
    def show_pod(pod_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        return {"pod": request.app.state.plugin.get_pod(ctx, pod_id)}

    @router.delete("/pods/{pod_id}", status_code=200)
    def delete_pod(pod_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        request.app.state.plugin.delete_pod(ctx, pod_id)
        return {}

    @router.get("/routings")
    def list_routings(request: Request, ctx: Context = Depends(caller)) -> Body:
        filters = dict(request.query_params)
        return {"routings": request.app.state.plugin.list_routings(ctx, filters)}

    @router.post("/routings", status_code=200)
    def create_routing(body: schemas.RoutingCreateBody, request: Request,
                       ctx: Context = Depends(caller)) -> Body:
        return {"routing": request.app.state.plugin.create_routing(ctx, body.routing)}

    @router.get("/routings/{routing_id}")
    def show_routing(routing_id: int, request: Request, ctx: Context = Depends(caller)) -> Body:
        return {"routing": request.app.state.plugin.get_routing(ctx, routing_id)}

    @router.delete("/routings/{routing_id}", status_code=200)
    def delete_routing(routing_id: int, request: Request,
                       ctx: Context = Depends(caller)) -> Body:
        request.app.state.plugin.delete_routing(ctx, routing_id)
        return {}

    @router.put("/ports/{port_id}/status")
    def set_port_status(port_id: str, body: schemas.PortStatusBody, request: Request,
                        ctx: Context = Depends(caller)) -> Body:
        return {"port": request.app.state.plugin.set_port_status(ctx, port_id, body.status)}

    @router.get("/jobs")
    def list_jobs(request: Request, ctx: Context = Depends(caller)) -> Body:
        policy.enforce_admin(ctx, "list_jobs")
        params = request.query_params
        with request.app.state.db.read() as session:
            jobs = request.app.state.queue.list(session, type=params.get("type"),
                                                status=params.get("status"),
                                                project_id=params.get("project_id"))
            return {"jobs": [job_view(j) for j in jobs]}

    @router.get("/jobs/{job_id}")
    def show_job(job_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        policy.enforce_admin(ctx, "show_job")
        with request.app.state.db.read() as session:
            try:
                return {"job": job_view(request.app.state.queue.get(session, job_id))}
            except JobNotFound as exc:
                raise NotFound(str(exc), kind="ResourceNotFound") from exc

    @router.put("/jobs/{job_id}")
    def redo_job(job_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        policy.enforce_admin(ctx, "redo_job")
        try:
            with request.app.state.db.write() as session:
                return {"job": job_view(request.app.state.queue.redo(session, job_id))}
        except JobNotFound as exc:
            raise NotFound(str(exc), kind="ResourceNotFound") from exc
        except JobConflict as exc:
            raise Conflict(str(exc), kind="JobConflict") from exc

    @router.delete("/jobs/{job_id}", status_code=200)
    def delete_job(job_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        policy.enforce_admin(ctx, "delete_job")
        try:
            with request.app.state.db.write() as session:
                request.app.state.queue.delete(session, job_id)
        except JobNotFound as exc:
            raise NotFound(str(exc), kind="ResourceNotFound") from exc
        except JobConflict as exc:
            raise Conflict(str(exc), kind="JobConflict") from exc
        return {}

    return router


MirrorType = Literal["networks", "subnets", "ports", "security_groups"]


def local_router() -> APIRouter:
    router = APIRouter(prefix="/v1.0")

    @router.post("/mirrors/{collection}/{resource_id}/sync")
    def sync_mirror(collection: MirrorType, resource_id: str, request: Request,
                    ctx: Context = Depends(caller)) -> Body:
        """Central's jobs call this: re-read one mirror from central."""
        policy.enforce_admin(ctx, "sync_mirror")
        state = request.app.state.plugin.sync(collection[:-1], resource_id)
        return {"mirror": {"resource_type": collection[:-1], "id": resource_id,
                           "state": state}}

    @router.post("/mirrors/networks/{network_id}/shadow_sync")
    def sync_shadow_ports(network_id: str, request: Request,
                          ctx: Context = Depends(caller)) -> Body:
        """Central's jobs call this: re-derive the shadow ports of one network."""
        policy.enforce_admin(ctx, "sync_shadow_ports")
        return {"shadow_ports": request.app.state.plugin.sync_shadow_ports(network_id)}

    @router.put("/ports/{port_id}/status")
    def set_port_status(port_id: str, body: schemas.PortStatusBody, request: Request,
                        ctx: Context = Depends(caller)) -> Body:
        """Host agents call this once a port is plugged."""
        return {"port": request.app.state.plugin.set_port_status(ctx, port_id, body.status)}

    @router.put("/agents/{host}")
    def report_agent(host: str, body: schemas.AgentReportBody, request: Request,
                     ctx: Context = Depends(caller)) -> Body:
        """Host agents call this at start and as a heartbeat."""
        agent, changed = request.app.state.agents.report(ctx, host, body.agent)
        if changed:
            request.app.state.plugin.refresh_bindings(host)
        return {"agent": agent}

    return router


def agents_router() -> APIRouter:
    """Neutron's ``/v2.0/agents`` (read only): a region's host agents."""
    router = APIRouter(prefix="/v2.0")

    @router.get("/agents")
    def list_agents(request: Request, ctx: Context = Depends(caller)) -> Body:
        items = request.app.state.agents.list(ctx)
        return list_response("agents", items, request.query_params, request.url)

    @router.get("/agents/{agent_id}")
    def show_agent(agent_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        return {"agent": request.app.state.agents.get(ctx, agent_id)}

    return router


