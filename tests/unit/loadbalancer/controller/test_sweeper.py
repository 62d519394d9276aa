"""The sweeper finds what is stuck in one query, however many load balancers are
pending (it used to ask for each one's amphorae in a query of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from controller_testing import LBS, Rig
from sqlalchemy import event, update

from tricircle_lb.loadbalancer import background, models
from tricircle_lb.loadbalancer.controller import sweeper


@contextmanager
def _lookups(rig: Rig) -> Iterator[list[str]]:
    """The SELECTs run meanwhile that read the jobs or the amphorae table."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("SELECT") and ("jobs" in statement or "amphorae" in statement):
            seen.append(statement)

    engine = rig.state.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_one_query_finds_every_stuck_load_balancer(rig: Rig) -> None:
    lbs = [rig.create_lb(name=f"lb{i}") for i in range(4)]
    rig.run()
    for lb in lbs[1:]:
        rig.api("PUT", f"{LBS}/{lb['id']}", 200, {"loadbalancer": {"description": "x"}})
    with rig.state.db.write() as session:  # their jobs gone, as after a restore
        session.execute(update(models.Job).where(models.Job.status == "NEW")
                        .values(status="SUCCESS"))
    [amp] = rig.amphorae(lbs[0]["id"])
    background.request_failover(rig.state, amp.id)  # lbs[0]: a job on its amphora
    with _lookups(rig) as queries:
        swept = sweeper.sweep(rig.state.db, grace=timedelta(0))
    assert sorted(swept) == sorted(lb["id"] for lb in lbs[1:])
    assert len(queries) == 1, queries
    assert [rig.show(lb["id"])["provisioning_status"] for lb in lbs] == [
        "PENDING_UPDATE", "ERROR", "ERROR", "ERROR"]
