"""Nova's compute quotas: instances, cores and RAM per project, counted at create.

As Nova (since Pike) does, usage is counted from the servers a project has
when it asks for more, not kept in a ledger that could drift: a create that
would take the project past a limit is refused with Nova's 403 "Quota
exceeded for …". Limits are Nova's defaults unless an admin set one with
``os-quota-sets`` (``-1``: unlimited). The other keys Nova reports are shown
with Nova's defaults and not enforced (this compute has no key pairs, server
groups or metadata limits to run out of).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import Forbidden
from tricircle_lb.compute import catalog
from tricircle_lb.compute.models import Quota, Server

ENFORCED = {"instances": 10, "cores": 20, "ram": 51200}
# Reported as Nova reports them (microversion 2.57 and later), never exhausted here.
REPORTED = {"key_pairs": 100, "metadata_items": 128, "server_groups": 10,
            "server_group_members": 10}
# Reported before 2.57 (injected files) and before 2.36 (proxies of networking).
BEFORE_2_57 = {"injected_file_content_bytes": 10240, "injected_file_path_bytes": 255,
               "injected_files": 5}
BEFORE_2_36 = {"fixed_ips": -1, "floating_ips": -1, "security_group_rules": -1,
               "security_groups": -1}
UNLIMITED = -1


def limits(session: Session, project_id: str) -> dict[str, int]:
    """Every enforced and reported limit of the project."""
    result = {**ENFORCED, **REPORTED}
    for row in session.scalars(select(Quota).where(Quota.project_id == project_id)):
        result[row.resource] = row.hard_limit
    return result


def usage(session: Session, project_id: str) -> dict[str, int]:
    """Instances, cores and RAM (MB) the project's servers hold now."""
    flavors = {f.id: f for f in catalog.FLAVORS}
    used = {"instances": 0, "cores": 0, "ram": 0}
    rows = session.execute(select(Server.flavor_id, func.count()).where(
        Server.deleted.is_(False), Server.project_id == project_id)
        .group_by(Server.flavor_id)).tuples()
    for flavor_id, count in rows:
        used["instances"] += count
        if flavor_id in flavors:
            used["cores"] += count * flavors[flavor_id].vcpus
            used["ram"] += count * flavors[flavor_id].ram
    return used


def check(session: Session, project_id: str, wanted: Mapping[str, int]) -> None:
    """Forbidden (Nova's words) if ``wanted`` more would pass a limit of the project."""
    allowed = limits(session, project_id)
    used = usage(session, project_id)
    overs = [r for r in ENFORCED if allowed[r] != UNLIMITED
             and used[r] + wanted.get(r, 0) > allowed[r]]
    if overs:
        first = overs[0]
        raise Forbidden(f"Quota exceeded for {', '.join(overs)}: Requested "
                        f"{wanted.get(first, 0)}, but already used {used[first]} of "
                        f"{allowed[first]} {', '.join(overs)}")


def update(session: Session, project_id: str, values: Mapping[str, int]) -> None:
    for resource, limit in values.items():
        row = session.get(Quota, (project_id, resource))
        if row is None:
            session.add(Quota(project_id=project_id, resource=resource, hard_limit=limit))
        else:
            row.hard_limit = limit


def reset(session: Session, project_id: str) -> None:
    """Back to the defaults (``DELETE /os-quota-sets/{project}``)."""
    for row in session.scalars(select(Quota).where(Quota.project_id == project_id)):
        session.delete(row)
