"""``tricircle-lb status`` fits an 80-column terminal without cutting a value."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tests_support import private_default_topology
from tricircle_lb.cli import status_view
from tricircle_lb.deploy import launcher
from tricircle_lb.deploy.services import services


def _status(tmp_path: Path) -> launcher.Status:
    topo = private_default_topology(tmp_path / "state")
    svcs = [launcher.ServiceStatus(s, 123456, True) for s in services(topo)]
    hosts = tuple(launcher.HostStatus(h, True, h != "RegionOne-host2", True,
                                      error="network namespace 'tcl-h-x' does not exist"
                                      if h == "RegionOne-host2" else "",
                                      repair="rebuilt host namespace; restarted "
                                             "amphora-0123456789ab", repaired_ago=12)
                  for h in topo.region("RegionOne").all_hosts)
    amphorae = tuple(launcher.AmphoraInfo(f"{n}1234567-89ab-cdef-0123-456789abcdef",
                                          "fedcba98-7654-3210-fedc-ba9876543210", role,
                                          "PENDING_DELETE", "RegionOne-controller",
                                          "192.168.100.200")
                     for n, role in enumerate(("STANDALONE", "MASTER", "BACKUP")))
    held = [launcher.Holdings("CentralRegion", 1234, 1234, 12345),
            launcher.Holdings("RegionOne", 1234, 1234, 12345, shadow_ports=1234,
                              servers=1234, agents="3/3", hosts=hosts, amphorae=amphorae)]
    stretched = [launcher.StretchedNetwork("0" * 36, "a-network-with-a-long-name",
                                           ("RegionOne", "RegionTwo"),
                                           {"RegionOne": 12, "RegionTwo": 34})]
    return launcher.Status(tmp_path, 4242, "ready", svcs, held, stretched)


def test_status_fits_80_columns_and_cuts_nothing(tmp_path: Path) -> None:
    console = Console(width=80, record=True, force_terminal=False)
    status_view.render(console, _status(tmp_path))
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    for whole in ("loadbalancer-RegionOne", "agent-RegionOne-controller", "127.0.0.1:9876",
                  "PENDING_DELETE", "192.168.100.200", "STANDALONE", "controller",
                  "namespace missing", "rebuilt host namespace"):
        assert whole in text, whole


def test_status_json_has_each_hosts_data_plane(tmp_path: Path) -> None:
    data = status_view.as_json(_status(tmp_path))
    hosts = {h["host"]: h for r in data["regions"] for h in r["hosts"]}  # type: ignore[union-attr,index]
    assert hosts["RegionOne-host2"]["data_plane"]["ok"] is False
    assert hosts["RegionOne-host1"]["data_plane"] == {
        "ok": True, "namespace": True, "underlay_reachable": True, "last_error": "",
        "last_repair": "rebuilt host namespace; restarted amphora-0123456789ab",
        "repaired_ago": 12}
