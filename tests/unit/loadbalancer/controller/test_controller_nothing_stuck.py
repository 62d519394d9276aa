"""Issue 10, nothing stuck: every way a job of the controller ends FAIL leaves its load
balancer (and every pending child) ERROR at once, not PENDING_*: a flow that gives
up, attempts that run out in a flow that never gives up by itself (delete, tested in
test_controller_lifecycle.py), and a lease that expired on every attempt (the
service died in the flow each time, so no handler had the last word). The sweeper
catches a pending load balancer whose job is gone altogether."""

from __future__ import annotations

from datetime import timedelta

import pytest
from controller_testing import LBS, Crash, Rig
from sqlalchemy import update

from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.controller import sweeper
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraUnreachable

ATTEMPTS = 2


def _few_attempts(rig: Rig) -> None:
    """The pending jobs get ``ATTEMPTS`` claims (the test's queue has 5)."""
    with rig.state.db.write() as session:
        session.execute(update(models.Job).where(models.Job.status == "NEW")
                        .values(max_attempts=ATTEMPTS))


def _crash_every_attempt(rig: Rig, system: str, method: str) -> None:
    for _ in range(ATTEMPTS):
        with pytest.raises(Crash):
            rig.run(rig.crashing(system, method))
        rig.restart()  # the dead worker's lease runs out
    assert rig.run() == 0  # the claim that finds the lease spent sets FAIL
    job = rig.jobs()[-1]
    assert job.status == "FAIL" and "lease expired" in str(job.last_error)


def test_a_create_whose_lease_expires_on_every_attempt_ends_error(rig: Rig) -> None:
    lb = rig.create_lb()
    _few_attempts(rig)
    _crash_every_attempt(rig, "compute", "boot")
    assert rig.statuses(lb["id"]) == ["ERROR"]
    rig.api("DELETE", f"{LBS}/{lb['id']}", 204)  # ERROR can be deleted
    rig.run()
    rig.api("GET", f"{LBS}/{lb['id']}", 404)


def test_an_amphora_failover_whose_lease_expires_on_every_attempt_ends_error(rig: Rig) -> None:
    """The job names the amphora, not the load balancer: found through the amphora."""
    lb = rig.active_lb()
    [amp] = rig.amphorae(lb["id"])
    rig.api("PUT", f"/v2/octavia/amphorae/{amp.id}/failover", 202, token="admin-token")
    assert rig.show(lb["id"])["provisioning_status"] == "PENDING_UPDATE"
    _few_attempts(rig)
    _crash_every_attempt(rig, "compute", "boot")
    assert rig.show(lb["id"])["provisioning_status"] == "ERROR"


def test_an_apply_whose_attempts_run_out_ends_error_with_its_children(rig: Rig) -> None:
    lb = rig.active_lb()
    listener = rig.api("POST", "/v2/lbaas/listeners", 201, {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}})["listener"]
    [amp] = rig.amphorae(lb["id"])
    _few_attempts(rig)
    rig.agent.fail_on("put_config", AmphoraUnreachable("timed out"), times=ATTEMPTS)
    for _ in range(ATTEMPTS):
        assert rig.statuses(lb["id"]) == ["PENDING_UPDATE", "PENDING_CREATE"]
        rig.run()
        rig.later()
    assert rig.jobs()[-1].status == "FAIL"
    assert rig.statuses(lb["id"]) == ["ERROR", "ERROR"]
    assert rig.api("GET", f"/v2/lbaas/listeners/{listener['id']}", 200)["listener"][
        "provisioning_status"] == "ERROR"
    assert [a.id for a in rig.amphorae(lb["id"])] == [amp.id]


def test_the_sweeper_catches_a_pending_load_balancer_whose_job_is_gone(rig: Rig) -> None:
    lb = rig.active_lb()
    rig.api("PUT", f"{LBS}/{lb['id']}", 200, {"loadbalancer": {"description": "x"}})
    with rig.state.db.write() as session:  # e.g. deleted by hand, or a restored database
        session.execute(update(models.Job).where(models.Job.status == "NEW")
                        .values(status="SUCCESS"))
    assert sweeper.sweep(rig.state.db, grace=timedelta(0)) == [lb["id"]]
    assert rig.show(lb["id"])["provisioning_status"] == "ERROR"
