"""What clients look at besides servers: limits, zones, hypervisors, services, key pairs."""

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import NotFound
from tricircle_lb.compute import policy, quotas
from tricircle_lb.compute.microversions import Version, requested
from tricircle_lb.compute.models import utcnow
from tricircle_lb.compute.scheduler import host_loads
from tricircle_lb.compute.views import iso

Json = dict[str, Any]
HOST_NAMESPACE = uuid.UUID("0b8d7d0e-4d0c-4f7f-9a59-0f4a5d1c7e21")
HOST_VCPUS, HOST_RAM_MB, HOST_DISK_GB = 16, 32768, 400


def _hypervisor(request: Request, host: str, index: int, load: int, version: Version,
                detail: bool) -> Json:
    hid: Any = str(uuid.uuid5(HOST_NAMESPACE, host)) if version >= (2, 53) else index + 1
    body: Json = {"id": hid, "hypervisor_hostname": host, "state": "up", "status": "enabled"}
    if detail:
        body.update({"host_ip": "", "hypervisor_type": "namespace", "hypervisor_version": 1,
                     "service": {"host": host, "id": hid, "disabled_reason": None}})
        if version < (2, 88):
            body.update({"vcpus": HOST_VCPUS, "memory_mb": HOST_RAM_MB,
                         "local_gb": HOST_DISK_GB, "vcpus_used": load,
                         "memory_mb_used": 0, "local_gb_used": 0,
                         "free_ram_mb": HOST_RAM_MB, "free_disk_gb": HOST_DISK_GB,
                         "current_workload": 0, "running_vms": load,
                         "disk_available_least": HOST_DISK_GB, "cpu_info": "{}"})
    return body


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v2.1")

    @router.get("/limits")
    def limits(request: Request, ctx: Context = Depends(caller)) -> Json:
        project = policy.project_of(ctx)
        if "tenant_id" in request.query_params:
            # As Nova: another project's limits (any ``tenant_id``) are an admin's.
            policy.enforce_admin(ctx, "os_compute_api:limits:other_project")
            project = request.query_params["tenant_id"]
        with request.app.state.db.read() as session:
            allowed = quotas.limits(session, project)
            used = quotas.usage(session, project)
        return {"limits": {"rate": [], "absolute": {
            "maxTotalInstances": allowed["instances"], "maxTotalCores": allowed["cores"],
            "maxTotalRAMSize": allowed["ram"], "maxServerMeta": allowed["metadata_items"],
            "maxTotalKeypairs": allowed["key_pairs"],
            "maxServerGroups": allowed["server_groups"],
            "maxServerGroupMembers": allowed["server_group_members"],
            "totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"],
            "totalRAMUsed": used["ram"], "totalServerGroupsUsed": 0}}}

    @router.get("/os-availability-zone")
    def zones(request: Request, ctx: Context = Depends(caller)) -> Json:
        zone = request.app.state.config.availability_zone
        return {"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": True},
                                          "hosts": None}]}

    @router.get("/os-availability-zone/detail")
    def zones_detail(request: Request, ctx: Context = Depends(caller)) -> Json:
        policy.enforce_admin(ctx, "os_compute_api:os-availability-zone:detail")
        cfg = request.app.state.config
        now = iso(utcnow())
        service = {"available": True, "active": True, "updated_at": now}
        return {"availabilityZoneInfo": [
            {"zoneName": "internal", "zoneState": {"available": True},
             "hosts": {f"compute-{cfg.region_name}": {"nova-conductor": service,
                                                       "nova-scheduler": service}}},
            {"zoneName": cfg.availability_zone, "zoneState": {"available": True},
             "hosts": {h: {"nova-compute": service} for h in cfg.hosts}}]}

    def _hypervisors(request: Request, ctx: Context, version: Version,
                     detail: bool) -> list[Json]:
        policy.enforce_admin(ctx, "os_compute_api:os-hypervisors:list")
        hosts = request.app.state.config.hosts
        with request.app.state.db.read() as session:
            loads = host_loads(session, hosts)
        return [_hypervisor(request, h, i, loads[h], version, detail)
                for i, h in enumerate(hosts)]

    @router.get("/os-hypervisors")
    def hypervisors(request: Request, ctx: Context = Depends(caller),
                    version: Version = Depends(requested)) -> Json:
        return {"hypervisors": _hypervisors(request, ctx, version, detail=False)}

    @router.get("/os-hypervisors/detail")
    def hypervisors_detail(request: Request, ctx: Context = Depends(caller),
                           version: Version = Depends(requested)) -> Json:
        return {"hypervisors": _hypervisors(request, ctx, version, detail=True)}

    @router.get("/os-hypervisors/{hypervisor_id}")
    def hypervisor(hypervisor_id: str, request: Request, ctx: Context = Depends(caller),
                   version: Version = Depends(requested)) -> Json:
        for item in _hypervisors(request, ctx, version, detail=True):
            if str(item["id"]) == hypervisor_id:
                return {"hypervisor": item}
        raise NotFound(f"Hypervisor with ID '{hypervisor_id}' could not be found.")

    @router.get("/os-services")
    def services(request: Request, ctx: Context = Depends(caller)) -> Json:
        policy.enforce_admin(ctx, "os_compute_api:os-services:list")
        cfg = request.app.state.config
        return {"services": [
            {"id": str(uuid.uuid5(HOST_NAMESPACE, f"service/{h}")), "binary": "nova-compute",
             "host": h, "zone": cfg.availability_zone, "status": "enabled", "state": "up",
             "updated_at": iso(utcnow()), "disabled_reason": None, "forced_down": False}
            for h in cfg.hosts]}

    @router.get("/os-keypairs")
    def keypairs(ctx: Context = Depends(caller)) -> Json:
        return {"keypairs": []}

    @router.get("/os-keypairs/{name}")
    def keypair(name: str, ctx: Context = Depends(caller)) -> Json:
        raise NotFound(f"Keypair {name} not found for user {ctx.user_id}")

    return router
