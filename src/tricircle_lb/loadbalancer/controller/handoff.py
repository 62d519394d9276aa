"""How the API hands work to the controller: a durable job, enqueued in the
same transaction that sets the objects' ``PENDING_*`` state (decision 030).

One job per load balancer at a time does the work of every pending change of
that load balancer: children only mark themselves pending and ask for an
``apply``, and the flow renders the whole configuration from the database.
So two quick member creates become one HAProxy reload, and a crash between
the API's commit and the flow loses nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tricircle_lb.jobs import JobQueue

LB_CREATE = "loadbalancer_create"
LB_APPLY = "loadbalancer_apply"
LB_DELETE = "loadbalancer_delete"
LB_FAILOVER = "loadbalancer_failover"
AMPHORA_FAILOVER = "amphora_failover"
AMPHORA_RESTORE = "amphora_restore"
AMPHORA_DELETE = "amphora_delete"
KINDS = (LB_CREATE, LB_APPLY, LB_DELETE, LB_FAILOVER, AMPHORA_FAILOVER, AMPHORA_RESTORE,
         AMPHORA_DELETE)


def create_loadbalancer(session: Session, queue: JobQueue[Any], lb_id: str,
                        project_id: str) -> None:
    """Boot the amphorae of a new load balancer (``PENDING_CREATE``) and make it serve."""
    queue.enqueue(session, LB_CREATE, {"loadbalancer_id": lb_id}, resource_id=lb_id,
                  project_id=project_id, dedup_key=f"{LB_CREATE}:{lb_id}")


def apply(session: Session, queue: JobQueue[Any], lb_id: str, project_id: str) -> None:
    """Bring the amphorae in line with every pending change under the load balancer."""
    queue.enqueue(session, LB_APPLY, {"loadbalancer_id": lb_id}, resource_id=lb_id,
                  project_id=project_id, dedup_key=f"{LB_APPLY}:{lb_id}")


def delete_loadbalancer(session: Session, queue: JobQueue[Any], lb_id: str,
                        project_id: str) -> None:
    """Remove the amphorae, the VIP and every child (``PENDING_DELETE``), then the rows."""
    queue.enqueue(session, LB_DELETE, {"loadbalancer_id": lb_id}, resource_id=lb_id,
                  project_id=project_id, dedup_key=f"{LB_DELETE}:{lb_id}")


def failover_loadbalancer(session: Session, queue: JobQueue[Any], lb_id: str,
                          project_id: str) -> None:
    """Replace every amphora of the load balancer, one at a time."""
    queue.enqueue(session, LB_FAILOVER, {"loadbalancer_id": lb_id}, resource_id=lb_id,
                  project_id=project_id, dedup_key=f"{LB_FAILOVER}:{lb_id}")


def failover_amphora(session: Session, queue: JobQueue[Any], amphora_id: str,
                     project_id: str = "") -> None:
    """Replace one amphora (health manager: it went silent; admin: asked)."""
    queue.enqueue(session, AMPHORA_FAILOVER, {"amphora_id": amphora_id},
                  resource_id=amphora_id, project_id=project_id or None,
                  dedup_key=f"{AMPHORA_FAILOVER}:{amphora_id}")


def restore_amphora(session: Session, queue: JobQueue[Any], amphora_id: str,
                    project_id: str = "") -> None:
    """Give an amphora that came back without its configuration (its host lost it and
    started it again) its VIP and configuration again (health manager)."""
    queue.enqueue(session, AMPHORA_RESTORE, {"amphora_id": amphora_id},
                  resource_id=amphora_id, project_id=project_id or None,
                  dedup_key=f"{AMPHORA_RESTORE}:{amphora_id}")


def delete_amphora(session: Session, queue: JobQueue[Any], amphora_id: str) -> None:
    """Remove an amphora in ERROR (admin's ``DELETE /v2/octavia/amphorae/{id}``)."""
    queue.enqueue(session, AMPHORA_DELETE, {"amphora_id": amphora_id},
                  resource_id=amphora_id, project_id=None,
                  dedup_key=f"{AMPHORA_DELETE}:{amphora_id}")
