"""Issue 10 for real: an amphora's heartbeats verify under its own key (decision 076),
and nothing stuck: a load balancer whose delete cannot finish ends ERROR, not
PENDING_DELETE, and can be deleted once the cause is gone.

The delete flow removes the amphora's ports and the VIP port at central networking
(where every port is owned), so central is what the outage takes away: it is killed
each time the supervisor starts it again, and every call of the flow fails at once
(connection refused) until the job is out of attempts. The test deployment's
controllers give up after ``LB_JOB_ATTEMPTS`` attempts with at most
``LB_JOB_BACKOFF_MAX`` seconds between two (topology ``[loadbalancer]``), so that
takes seconds instead of the default's minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lb_support import amphorae

from tests_support import LB_JOB_ATTEMPTS, Cloud, wait_for

pytestmark = [pytest.mark.cloud, pytest.mark.root]

CENTRAL = "CentralRegion"


def _ours(cloud: Cloud, pid: int) -> bool:
    """Whether ``pid`` runs one of this deployment's services (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(cloud.state_dir).encode() in cmdline


class Outage:
    """While active, ``service`` is killed whenever the supervisor starts it again."""

    def __init__(self, cloud: Cloud, service: str) -> None:
        self.cloud = cloud
        self.service = service
        self.kills = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"outage-{service}",
                                        daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pid = self.cloud.pid(self.service)
            except (OSError, ValueError, IndexError):
                pid = 0
            if pid and _ours(self.cloud, pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Outage:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _central_up(cloud: Cloud) -> bool:
    try:
        return httpx.get(f"{cloud.central_url}/healthcheck", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _status(cloud: Cloud, name: str) -> str | None:
    shown = cloud.openstack_raw("loadbalancer", "show", name, "-f", "json")
    if shown.returncode != 0:
        return None
    return str(json.loads(shown.stdout)["provisioning_status"])


def _heartbeats(cloud: Cloud) -> dict[str, float]:
    """RegionOne's health manager's heartbeat counters by outcome (Prometheus)."""
    text = httpx.get(f"http://127.0.0.1:{cloud.ports['loadbalancer-RegionOne']}/metrics",
                     timeout=10).text
    return {m[1]: float(m[2]) for m in re.finditer(
        r'^tricircle_health_heartbeats_total\{outcome="(\w+)"\} (\S+)$', text, re.M)}


@pytest.fixture(scope="module")
def stuck_lb(cloud: Cloud) -> Iterator[dict[str, Any]]:
    """lb-stuck (SINGLE) on a network of its own."""
    cloud.openstack("network", "create", "stuck-net", region=CENTRAL)
    subnet = cloud.openstack("subnet", "create", "--network", "stuck-net", "--subnet-range",
                             "10.0.40.0/24", "stuck-subnet", region=CENTRAL)
    lb = cloud.openstack("loadbalancer", "create", "--name", "lb-stuck", "--vip-subnet-id",
                         subnet["id"], "--wait")
    assert lb["provisioning_status"] == "ACTIVE"
    yield lb
    cloud.openstack_raw("loadbalancer", "delete", "--cascade", "--wait", "lb-stuck")
    wait_for(lambda: _central_up(cloud), 60, what="central networking up")
    cloud.openstack_raw("network", "delete", "stuck-net", region=CENTRAL)


def test_an_amphoras_heartbeats_verify_under_its_own_key(
        cloud: Cloud, stuck_lb: dict[str, Any]) -> None:
    """The amphora was built with a key of its own: its agent answered the controller
    (the load balancer is ACTIVE) and the health manager accepts its heartbeats; none
    of the region's heartbeats is refused meanwhile."""
    before = _heartbeats(cloud)
    time.sleep(3)  # three heartbeats of each amphora
    after = _heartbeats(cloud)
    assert after["accepted"] >= before.get("accepted", 0) + 2, (before, after)
    assert after.get("invalid", 0) == before.get("invalid", 0), (before, after)


def test_a_delete_that_cannot_finish_ends_error_and_can_be_deleted_again(
        cloud: Cloud, stuck_lb: dict[str, Any]) -> None:
    lb = stuck_lb
    [amp] = amphorae(cloud, lb["id"])
    seen: list[str] = []

    def ended_in_error() -> bool:
        status = _status(cloud, "lb-stuck")
        if status is not None and (not seen or seen[-1] != status):
            seen.append(status)
        return status == "ERROR"

    with Outage(cloud, "central") as outage:
        wait_for(lambda: not _central_up(cloud), 30, interval=0.1, what="central down")
        started = time.monotonic()
        deleted = cloud.openstack_raw("loadbalancer", "delete", "lb-stuck")
        assert deleted.returncode == 0, deleted.stderr
        wait_for(ended_in_error, 60 + 15 * LB_JOB_ATTEMPTS, interval=0.5,
                 what="lb-stuck ERROR after its delete gave up")
        gave_up = time.monotonic() - started
        assert outage.kills >= 1
    # Never a status other than the delete's own and the end it came to.
    assert seen == ["PENDING_DELETE", "ERROR"] or seen == ["ERROR"], seen
    print(f"\ndelete gave up and lb-stuck was ERROR {gave_up:.1f} s after the delete "
          f"({LB_JOB_ATTEMPTS} attempts, central killed {outage.kills} times)")

    wait_for(lambda: _central_up(cloud), 60, what="central networking back")
    again = cloud.openstack_raw("loadbalancer", "delete", "--wait", "lb-stuck")
    assert again.returncode == 0, again.stderr
    assert cloud.openstack_raw("loadbalancer", "show", "lb-stuck").returncode != 0
    # Nothing of it left behind at central: the amphora's ports and the VIP port.
    names = [p["Name"] for p in cloud.openstack("port", "list", region=CENTRAL)]
    assert not [n for n in names if amp["id"] in n or n == f"octavia-lb-{lb['id']}"], names
