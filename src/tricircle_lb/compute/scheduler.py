"""Placing a server: the least loaded of the region's hosts in the wanted zone.

Load is the number of live servers a host carries; ties go to the host listed
first. Counting and placing happen in one write transaction, so concurrent
creates in one process spread evenly.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tricircle_lb.compute.models import Server

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


class NoValidHost(Exception):
    def __init__(self, reason: str = "") -> None:
        super().__init__(NO_VALID_HOST + (f" {reason}" if reason else ""))


def host_loads(session: Session, hosts: tuple[str, ...]) -> dict[str, int]:
    counts = dict(session.execute(
        select(Server.host, func.count()).where(Server.deleted.is_(False),
                                                Server.host.in_(hosts))
        .group_by(Server.host)).tuples().all())
    return {h: int(counts.get(h, 0)) for h in hosts}


def choose_host(session: Session, hosts: tuple[str, ...], forced: str | None = None) -> str:
    if forced is not None:
        if forced not in hosts:
            raise NoValidHost(f"Host {forced} is not a compute host of this region.")
        return forced
    if not hosts:
        raise NoValidHost()
    loads = host_loads(session, hosts)
    return min(hosts, key=lambda h: (loads[h], hosts.index(h)))
