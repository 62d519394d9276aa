"""Networks at central: segments, availability zone hints, deletion rules."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import NotFound
from tricircle_lb.networking import policy, schemas, segments, views
from tricircle_lb.networking.central.base import Body, CentralBase, bump, new_id
from tricircle_lb.networking.errors import in_use, invalid
from tricircle_lb.networking.models import Network, Pod, Port, Routing


class NetworkOps(CentralBase):
    def create_network(self, ctx: Context, req: schemas.NetworkCreate) -> Body:
        policy.enforce_write(ctx, "create_network")
        given = {req.model_fields[f].alias or f for f in req.model_fields_set}
        if not req.shared:
            given.discard("shared")
        policy.enforce_attributes(ctx, "network", "create", given)
        project_id = policy.owner(ctx, "create_network", req.project_id, req.tenant_id)
        with self.db.write() as session:
            self._check_quota(session, project_id, "network", Network)
            home = self._home_region(session, req)
            seg = segments.allocate(session, self.cfg, req.provider_network_type,
                                    req.provider_physical_network, req.provider_segmentation_id)
            if req.mtu is not None and req.mtu > seg.mtu:
                raise invalid(f"Requested MTU {req.mtu} is too big, maximum is {seg.mtu}")
            row = Network(
                id=new_id(), project_id=project_id, name=req.name,
                description=req.description, admin_state_up=req.admin_state_up,
                shared=req.shared, mtu=req.mtu or seg.mtu,
                port_security_enabled=req.port_security_enabled,
                network_type=seg.network_type, physical_network=seg.physical_network,
                segmentation_id=seg.segmentation_id,
                availability_zone_hints=req.availability_zone_hints,
                home_region=home if seg.network_type == "local" else None,
                tags=sorted(set(req.tags)),
            )
            session.add(row)
            session.flush()
            return views.network(row, [])

    def _home_region(self, session: Session, req: schemas.NetworkCreate) -> str | None:
        """Check the hints (region or zone names); the one region a `local` network is in."""
        if not req.availability_zone_hints:
            return None
        pods = list(session.scalars(select(Pod)))
        regions: set[str] = set()
        for hint in req.availability_zone_hints:
            matches = {p.region_name for p in pods
                       if hint in (p.region_name, p.az_name) and p.region_name != self.region_name}
            if not matches:
                raise NotFound(f"AvailabilityZone {hint} could not be found.",
                               kind="AvailabilityZoneNotFound")
            regions |= matches
        if req.provider_network_type == "local" and len(regions) > 1:
            raise invalid("a local network belongs to exactly one region, but its "
                          f"availability_zone_hints name {sorted(regions)}")
        return sorted(regions)[0]

    def _zones(self, session: Session, network_ids: list[str]) -> dict[str, list[str]]:
        rows = session.execute(
            select(Routing.top_id, Pod.az_name, Pod.region_name)
            .join(Pod, Pod.pod_id == Routing.pod_id)
            .where(Routing.resource_type == "network", Routing.top_id.in_(network_ids)))
        zones: dict[str, set[str]] = {}
        for top_id, az, region in rows:
            zones.setdefault(top_id, set()).add(az or region)
        return {k: sorted(v) for k, v in zones.items()}

    def get_network(self, ctx: Context, network_id: str) -> Body:
        with self.db.read() as session:
            row = self._network(session, ctx, network_id)
            return views.network(row, self._zones(session, [row.id]).get(row.id, []))

    def list_networks(self, ctx: Context, params: QueryParams) -> list[Body]:
        with self.db.read() as session:
            query = select(Network)
            if not ctx.is_admin:
                query = query.where((Network.project_id == ctx.project_id) | Network.shared)
            rows = list(session.scalars(query))
            zones = self._zones(session, [r.id for r in rows])
            return [views.network(r, zones.get(r.id, [])) for r in rows]

    def update_network(self, ctx: Context, network_id: str,
                       req: schemas.NetworkUpdate) -> Body:
        policy.enforce_write(ctx, "update_network")
        changes = req.model_dump(exclude_unset=True)
        policy.enforce_attributes(ctx, "network", "update", set(changes))
        with self.db.write() as session:
            row = self._network(session, ctx, network_id)
            if row.project_id != ctx.project_id:
                policy.enforce_admin(ctx, "update_network")
            if changes.get("shared") is False and row.shared:
                others = session.scalar(select(Port.id).where(
                    Port.network_id == row.id, Port.project_id != row.project_id))
                if others:
                    raise in_use("network", row.id,
                                 "One or more ports have an IP allocation from this network "
                                 "in other projects.")
            for key, value in changes.items():
                if value is None and key not in ("description",):
                    continue
                setattr(row, key, value)
            bump(row)
            self.mirrors.notify(session, "network", row.id, row.project_id)
            session.flush()
            return views.network(row, self._zones(session, [row.id]).get(row.id, []))

    def delete_network(self, ctx: Context, network_id: str) -> None:
        policy.enforce_write(ctx, "delete_network")
        with self.db.write() as session:
            row = self._network(session, ctx, network_id)
            if row.project_id != ctx.project_id:
                policy.enforce_admin(ctx, "delete_network")
            busy = session.scalar(select(Port.id).where(
                Port.network_id == row.id, Port.device_owner != "network:dhcp"))
            if busy:
                raise in_use("network", row.id)
            self.mirrors.notify(session, "network", row.id, row.project_id, deleting=True)
            session.delete(row)
