"""Keeping the regions' mirrors in line with central, through durable jobs.

When a central resource changes or goes away, a ``mirror_sync`` job per
region that holds a mirror (per routing entry) is enqueued in the same
transaction. The job asks the region to re-read the resource from central
(``POST /v1.0/mirrors/{type}/{id}/sync``): the region updates its mirror, or
deletes it when central no longer has the resource. Asking the region to
re-read, rather than sending it the new state, makes the job idempotent and
makes a late or repeated job harmless.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import ServiceUnavailable
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.db import Database
from tricircle_lb.jobs import JobQueue, PermanentJobError
from tricircle_lb.networking.models import Job, Pod, Port, Routing, Subnet

LOG = logging.getLogger(__name__)

SYNC_JOB = "mirror_sync"
SHADOW_JOB = "shadow_sync"


class MirrorSync:
    def __init__(self, db: Database, queue: JobQueue[Job], session: ServiceSession | None) -> None:
        self.db = db
        self.queue = queue
        self.session = session

    def notify(self, session: Session, resource_type: str, resource_id: str, project_id: str,
               *, deleting: bool = False) -> int:
        """Enqueue a sync of ``resource_id`` to every region that mirrors it."""
        routes = list(session.execute(
            select(Routing.pod_id, Pod.region_name).join(Pod, Pod.pod_id == Routing.pod_id)
            .where(Routing.top_id == resource_id, Routing.resource_type == resource_type)))
        for pod_id, region in routes:
            self.queue.enqueue(
                session, SYNC_JOB,
                {"resource_type": resource_type, "resource_id": resource_id,
                 "region": region, "pod_id": pod_id},
                resource_id=resource_id, project_id=project_id,
                dedup_key=f"{SYNC_JOB}:{resource_type}:{resource_id}:{region}")
        if deleting and resource_type == "network":
            # A region drops a network's subnets and ports with the network.
            subnet_ids = select(Subnet.id).where(Subnet.network_id == resource_id)
            session.execute(delete(Routing).where(Routing.top_id.in_(subnet_ids),
                                                  Routing.resource_type == "subnet"))
        return len(routes)

    def notify_shadows(self, session: Session, network_id: str, project_id: str) -> int:
        """Enqueue a shadow-port sync of ``network_id`` in every region that has it.

        Called when a port of the network is bound, moved, re-addressed or
        deleted: each region then holds the other regions' bound ports as
        shadow ports (decision 044).
        """
        regions = list(session.execute(
            select(Routing.pod_id, Pod.region_name).join(Pod, Pod.pod_id == Routing.pod_id)
            .where(Routing.top_id == network_id, Routing.resource_type == "network")))
        for pod_id, region in regions:
            self.queue.enqueue(
                session, SHADOW_JOB,
                {"network_id": network_id, "region": region, "pod_id": pod_id},
                resource_id=network_id, project_id=project_id,
                dedup_key=f"{SHADOW_JOB}:{network_id}:{region}")
        return len(regions)

    def run_shadows(self, job: Job) -> None:
        """Job handler: have a region re-derive its shadow ports of one network."""
        payload = job.payload
        network_id, region, pod_id = payload["network_id"], payload["region"], payload["pod_id"]
        body = self._call_region(region, f"/v1.0/mirrors/networks/{network_id}/shadow_sync")
        shadows = set(body["shadow_ports"])
        with self.db.write() as session:
            ports = set(session.scalars(select(Port.id).where(Port.network_id == network_id)))
            session.execute(delete(Routing).where(
                Routing.resource_type == "shadow_port", Routing.pod_id == pod_id,
                Routing.top_id.in_(ports - shadows)))
            known = set(session.scalars(select(Routing.top_id).where(
                Routing.resource_type == "shadow_port", Routing.pod_id == pod_id,
                Routing.top_id.in_(shadows))))
            for port_id in sorted((shadows & ports) - known):
                project = session.scalar(select(Port.project_id).where(Port.id == port_id))
                session.add(Routing(top_id=port_id, bottom_id=port_id, pod_id=pod_id,
                                    project_id=project or "", resource_type="shadow_port"))
        LOG.info("shadow ports of network %s in %s: %d", network_id, region, len(shadows))

    def _call_region(self, region: str, path: str) -> dict[str, Any]:
        if self.session is None:
            raise PermanentJobError("no service credentials configured to reach regions")
        try:
            url = self.session.endpoint("network", region)
            resp = self.session.client.post(f"{url}{path}",
                                            headers={"X-Auth-Token": self.session.token()})
        except (httpx.HTTPError, ServiceUnavailable) as exc:
            raise RuntimeError(f"region {region} unreachable: {exc}") from exc
        if resp.status_code == 401:
            self.session.invalidate()
        if resp.status_code != 200:
            raise RuntimeError(f"region {region} answered {resp.status_code}: {resp.text[:200]}")
        result: dict[str, Any] = resp.json()
        return result

    def run(self, job: Job) -> None:
        """Job handler: have the region re-read one resource from central."""
        payload = job.payload
        kind, rid, region = payload["resource_type"], payload["resource_id"], payload["region"]
        body = self._call_region(region, f"/v1.0/mirrors/{kind}s/{rid}/sync")
        state = body["mirror"]["state"]
        LOG.info("mirror of %s %s in %s: %s", kind, rid, region, state)
        if state in ("deleted", "absent"):
            with self.db.write() as session:
                session.execute(delete(Routing).where(
                    Routing.top_id == rid, Routing.resource_type == kind,
                    Routing.pod_id == payload["pod_id"]))
