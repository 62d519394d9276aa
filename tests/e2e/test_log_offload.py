"""Issue 11's log offloading on the spec's lb: each request through the VIP leaves a
flow line, in Octavia's format, in the region's file for that load balancer, sent
by the amphora's HAProxy over the management network; the amphora's own
administrative logs arrive beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lb_support import BACKENDS, NET1, requests, wait_for

from tests_support import Cloud

pytestmark = [pytest.mark.cloud, pytest.mark.root]


def _lines(path: Path, needle: str) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if needle in line]


def test_a_flow_line_per_request_and_the_amphoras_own_log(
        cloud: Cloud, spec: dict[str, Any], http_pool: dict[str, Any]) -> None:
    lb = spec["lb"]
    listener = cloud.openstack("loadbalancer", "listener", "show", "listener1")
    logs = cloud.state_dir / "log" / "amphorae" / lb["id"]
    flow, admin = logs / "flow.log", logs / "amphora.log"
    served = f" {listener['id']} 200 "
    before = len(_lines(flow, served))

    answers = requests(cloud, NET1, f"http://{lb['vip_address']}/", 6)
    assert set(answers) <= set(BACKENDS), answers
    lines = wait_for(lambda: (got := _lines(flow, served)) and len(got) >= before + 6
                     and got, 30, what="six new flow-log lines")
    fields = lines[-1].split(" ")
    # <project> <lb> <frontend> <client ip> <client port> <date> <listener> <status> …
    assert fields[:3] == [lb["project_id"], lb["id"], listener["id"]]
    assert fields[3].startswith("10.0.10.")  # the probe on subnet1, seen by HAProxy
    assert fields[6:8] == [listener["id"], "200"]
    assert fields[12] == f"{http_pool['id']}:{listener['id']}"
    members = {m["id"] for m in cloud.openstack("loadbalancer", "member", "list", "pool1")}
    assert fields[13] in members
    # The amphora's agent and HAProxy log to the admin stream, under the amphora's id.
    amphora = cloud.openstack("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
    assert wait_for(lambda: _lines(admin, amphora[0]["id"]), 30, what="an admin log line")
    assert flow.stat().st_mode & 0o777 == 0o640
