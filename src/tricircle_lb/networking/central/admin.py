"""Tricircle's admin API at central: pods (regions) and routings (who mirrors what)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Conflict, NotFound
from tricircle_lb.networking import policy, schemas
from tricircle_lb.networking.central.base import CentralBase, new_id
from tricircle_lb.networking.errors import invalid, network_not_located
from tricircle_lb.networking.models import Network, Pod, Port, Routing, SecurityGroup, Subnet
from tricircle_lb.networking.views import timestamp

Body = dict[str, Any]
MIRRORED = {"network": Network, "subnet": Subnet, "port": Port, "security_group": SecurityGroup}


def pod_view(pod: Pod) -> Body:
    return {"pod_id": pod.pod_id, "region_name": pod.region_name,
            "pod_az_name": pod.pod_az_name, "dc_name": pod.dc_name, "az_name": pod.az_name}


def routing_view(row: Routing) -> Body:
    return {"id": row.id, "top_id": row.top_id, "bottom_id": row.bottom_id,
            "pod_id": row.pod_id, "project_id": row.project_id,
            "resource_type": row.resource_type, "created_at": timestamp(row.created_at),
            "updated_at": timestamp(row.updated_at)}


class AdminOps(CentralBase):
    def create_pod(self, ctx: Context, req: schemas.PodCreate) -> Body:
        policy.enforce_admin(ctx, "create_pod")
        if req.region_name != self.region_name and not req.az_name:
            raise invalid("az_name is required for a bottom pod (a region)")
        try:
            with self.db.write() as session:
                if session.scalar(select(Pod).where(Pod.region_name == req.region_name)):
                    raise Conflict(f"Pod with region_name {req.region_name} already exists",
                                   kind="PodExists")
                pod = Pod(pod_id=new_id(), **req.model_dump())
                session.add(pod)
                session.flush()
                return pod_view(pod)
        except IntegrityError as exc:
            raise Conflict(f"Pod with region_name {req.region_name} already exists",
                           kind="PodExists") from exc

    def list_pods(self, ctx: Context) -> list[Body]:
        policy.enforce_admin(ctx, "list_pods")
        with self.db.read() as session:
            return [pod_view(p) for p in session.scalars(select(Pod).order_by(Pod.region_name))]

    def get_pod(self, ctx: Context, pod_id: str) -> Body:
        policy.enforce_admin(ctx, "show_pod")
        with self.db.read() as session:
            pod = session.get(Pod, pod_id)
            if pod is None:
                raise NotFound(f"Pod {pod_id} could not be found.", kind="PodNotFound")
            return pod_view(pod)

    def delete_pod(self, ctx: Context, pod_id: str) -> None:
        policy.enforce_admin(ctx, "delete_pod")
        with self.db.write() as session:
            pod = session.get(Pod, pod_id)
            if pod is None:
                raise NotFound(f"Pod {pod_id} could not be found.", kind="PodNotFound")
            if session.scalar(select(Routing.id).where(Routing.pod_id == pod_id)):
                raise Conflict(f"Pod {pod_id} still holds mirrors", kind="PodInUse")
            session.delete(pod)

    def create_routing(self, ctx: Context, req: schemas.RoutingCreate) -> Body:
        """Record that a region mirrors a resource (idempotent).

        For a ``local`` network this is also where its region is decided: the
        first region to mirror a local network without a hint becomes its home,
        and every other region is refused.
        """
        policy.enforce_admin(ctx, "create_routing")
        try:
            with self.db.write() as session:
                return self._create_routing(session, req)
        except IntegrityError:
            with self.db.read() as session:
                row = session.scalar(select(Routing).where(
                    Routing.top_id == req.top_id, Routing.pod_id == req.pod_id,
                    Routing.resource_type == req.resource_type))
                if row is None:
                    raise
                return routing_view(row)

    def _create_routing(self, session: Session, req: schemas.RoutingCreate) -> Body:
        pod = session.get(Pod, req.pod_id)
        if pod is None:
            raise NotFound(f"Pod {req.pod_id} could not be found.", kind="PodNotFound")
        resource = session.get(MIRRORED[req.resource_type], req.top_id)
        if resource is None:
            raise NotFound(f"{req.resource_type} {req.top_id} could not be found.",
                           kind="ResourceNotFound")
        network_id = req.top_id if isinstance(resource, Network) else \
            getattr(resource, "network_id", None)
        network = session.get(Network, network_id) if network_id else None
        if network is not None and network.network_type == "local":
            if network.home_region is None:
                network.home_region = pod.region_name
            elif network.home_region != pod.region_name:
                raise network_not_located(network.id, pod.region_name, network.home_region)
        existing = session.scalar(select(Routing).where(
            Routing.top_id == req.top_id, Routing.pod_id == req.pod_id,
            Routing.resource_type == req.resource_type))
        if existing is not None:
            return routing_view(existing)
        row = Routing(**req.model_dump())
        session.add(row)
        session.flush()
        return routing_view(row)

    def list_routings(self, ctx: Context, filters: dict[str, str]) -> list[Body]:
        policy.enforce_admin(ctx, "list_routings")
        with self.db.read() as session:
            query = select(Routing).order_by(Routing.id)
            for key in ("top_id", "bottom_id", "pod_id", "project_id", "resource_type"):
                if key in filters:
                    query = query.where(getattr(Routing, key) == filters[key])
            return [routing_view(r) for r in session.scalars(query)]

    def get_routing(self, ctx: Context, routing_id: int) -> Body:
        policy.enforce_admin(ctx, "show_routing")
        with self.db.read() as session:
            row = session.get(Routing, routing_id)
            if row is None:
                raise NotFound(f"Routing {routing_id} could not be found.",
                               kind="RoutingNotFound")
            return routing_view(row)

    def delete_routing(self, ctx: Context, routing_id: int) -> None:
        policy.enforce_admin(ctx, "delete_routing")
        with self.db.write() as session:
            row = session.get(Routing, routing_id)
            if row is None:
                raise NotFound(f"Routing {routing_id} could not be found.",
                               kind="RoutingNotFound")
            session.delete(row)
