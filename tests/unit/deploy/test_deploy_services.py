"""Generated service configuration, secrets, openrc and pid files (no processes started)."""

from __future__ import annotations

import configparser
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests_support import private_default_topology
from tricircle_lb.common.config import AuthConfig, ServerConfig
from tricircle_lb.deploy import bootstrap, launcher, processes
from tricircle_lb.deploy.services import Kind, services, write_configs
from tricircle_lb.deploy.state import Secrets, StatePaths


@pytest.fixture()
def deployment(tmp_path: Path) -> launcher.Deployment:
    topo = private_default_topology(tmp_path / "state")
    StatePaths(topo.state_dir).create()
    return launcher.Deployment(topo)


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def test_services_in_start_order(deployment: launcher.Deployment) -> None:
    svcs = services(deployment.topology)
    assert [s.name for s in svcs] == [
        "identity", "key-manager", "central", "region-RegionOne", "region-RegionTwo",
        "compute-RegionOne", "compute-RegionTwo", "agent-RegionOne-controller",
        "agent-RegionOne-host1", "agent-RegionOne-host2", "agent-RegionTwo-controller",
        "agent-RegionTwo-host1", "agent-RegionTwo-host2", "loadbalancer-RegionOne",
        "loadbalancer-RegionTwo"]
    assert [s.kind for s in svcs] == ([Kind.IDENTITY, Kind.KEY_MANAGER] + [Kind.NETWORKING] * 3
                                      + [Kind.COMPUTE] * 2 + [Kind.AGENT] * 6
                                      + [Kind.LOADBALANCER] * 2)
    assert svcs[-2].url == "http://127.0.0.1:9876"  # Octavia's port for the first region
    assert svcs[1].url == "http://127.0.0.1:9311"  # Barbican's own port
    assert svcs[2].url == "http://127.0.0.1:9696"
    assert svcs[3].health_url == "http://127.0.0.1:9701/healthcheck"
    assert svcs[5].url == "http://127.0.0.1:8774"
    assert not svcs[7].has_api and svcs[6].has_api


def test_secrets_are_random_per_state_dir_kept_and_private(tmp_path: Path) -> None:
    a, b = StatePaths(tmp_path / "a"), StatePaths(tmp_path / "b")
    a.create()
    b.create()
    first = Secrets.load_or_create(a)
    assert Secrets.load_or_create(a) == first
    other = Secrets.load_or_create(b)
    assert first.admin_password != other.admin_password
    assert len({first.admin_password, first.service_password, first.demo_password}) == 3
    assert stat.S_IMODE(a.secrets.stat().st_mode) == 0o600
    assert stat.S_IMODE(a.root.stat().st_mode) == 0o700


def test_generated_configs_hold_exactly_what_services_read(
        deployment: launcher.Deployment) -> None:
    paths = deployment.paths
    secrets = Secrets.load_or_create(paths)
    write_configs(deployment.topology, secrets)
    files = sorted(p.name for p in paths.etc.iterdir())
    assert files == sorted(f"{s.name}.ini" for s in services(deployment.topology))
    for f in paths.etc.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600

    ident = _read(paths.config_file("identity"))
    server = ServerConfig.from_parser(ident)
    assert (server.bind_host, server.port) == ("127.0.0.1", 5000)
    assert server.database_url == f"sqlite:///{paths.root}/identity.db"
    assert server.log_file == paths.root / "log" / "identity.log"
    assert ident["identity"]["bootstrap_admin_password"] == secrets.admin_password
    assert ident["identity"]["token_expiration"] == "3600"

    central = _read(paths.config_file("central"))
    auth = AuthConfig.from_parser(central)
    assert auth.auth_url == "http://127.0.0.1:5000/v3"
    assert (auth.username, auth.password, auth.project_name) == (
        "tricircle-lb", secrets.service_password, "service")
    assert auth.token_cache_time == 10
    net = central["networking"]
    assert net["role"] == "central" and net["region_name"] == "CentralRegion"
    assert "availability_zone" not in net
    assert net["tenant_network_types"] == "vxlan,local,vlan,flat"
    assert net["vni_ranges"] == "1001:2000"
    assert net["network_vlan_ranges"] == "physnet1:100:199"
    assert net["flat_networks"] == "physnet2"
    jobs = {k: central["jobs"][k] for k in ("poll_interval", "lease_time", "max_attempts",
                                            "backoff_base", "backoff_max")}
    assert jobs == {"poll_interval": "0.5", "lease_time": "30", "max_attempts": "30",
                    "backoff_base": "0.5", "backoff_max": "10"}

    lb_jobs = _read(paths.config_file("loadbalancer-RegionOne"))["jobs"]
    assert {k: lb_jobs[k] for k in ("lease_time", "max_attempts", "backoff_max")} == {
        "lease_time": "10", "max_attempts": "30", "backoff_max": "10"}

    two = _read(paths.config_file("region-RegionTwo"))
    assert ServerConfig.from_parser(two).port == 9702
    assert two["networking"]["role"] == "local"
    assert two["networking"]["region_name"] == "RegionTwo"
    assert two["networking"]["central_region_name"] == "CentralRegion"
    assert two["networking"]["availability_zone"] == "az2"

    compute = _read(paths.config_file("compute-RegionTwo"))
    assert ServerConfig.from_parser(compute).port == 8775
    assert {k: compute["compute"][k] for k in ("region_name", "availability_zone", "hosts")} == {
        "region_name": "RegionTwo", "availability_zone": "az2",
        "hosts": "RegionTwo-host1,RegionTwo-host2"}
    agent = _read(paths.config_file("agent-RegionTwo-host1"))
    assert agent["agent"]["host"] == "RegionTwo-host1"
    prefix = deployment.topology.prefix
    assert agent["agent"]["host_namespace"] == f"{prefix}h-RegionTwo-host1"
    assert agent["agent"]["tunnel_ip"] == "198.18.0.5"  # 5th host in file order
    assert agent["agent"]["physical_interface_mappings"] == "physnet1:pn0,physnet2:pn1"
    assert agent["agent"]["namespace_prefix"] == prefix


def test_openrc_is_shell_quoted_and_sourceable(deployment: launcher.Deployment) -> None:
    paths = deployment.paths
    paths.secrets.write_text("[secrets]\nadmin_password = it's $(a) `secret`\n"
                             "service_password = s\ndemo_password = d\nheartbeat_key = k\n")
    text = launcher.openrc(deployment, "admin", None)
    result = subprocess.run(["bash", "-c", f"{text}\nprintf %s \"$OS_PASSWORD\""],
                            capture_output=True, text=True, check=True, env={})
    assert result.stdout == "it's $(a) `secret`"
    assert "export OS_REGION_NAME=RegionOne\n" in text
    assert "export OS_IDENTITY_API_VERSION=3\n" in text
    assert "export OS_CLOUD=tricircle-lb-admin-RegionOne\n" in text
    clouds = json.loads((paths.root / "clouds.yaml").read_text())["clouds"]
    assert stat.S_IMODE((paths.root / "clouds.yaml").stat().st_mode) == 0o600
    cloud = clouds["tricircle-lb-admin-RegionOne"]
    assert cloud["regions"] == ["RegionOne", "RegionTwo", "CentralRegion"]
    assert cloud["auth"]["password"] == "it's $(a) `secret`"
    assert clouds["tricircle-lb-demo-CentralRegion"]["regions"][0] == "CentralRegion"
    demo = launcher.openrc(deployment, "demo", "CentralRegion")
    assert "OS_USERNAME=demo" in demo and "OS_PASSWORD=d" in demo
    assert "OS_REGION_NAME=CentralRegion" in demo
    with pytest.raises(launcher.LauncherError, match="unknown region"):
        launcher.openrc(deployment, "admin", "Mars")


def test_openrc_before_up_says_what_to_do(deployment: launcher.Deployment) -> None:
    with pytest.raises(launcher.LauncherError, match="run `tricircle-lb up`"):
        launcher.openrc(deployment, "admin", None)


def test_pid_files_ignore_reused_pids(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pid_file = tmp_path / "x.pid"
        processes.write_pid(pid_file, proc.pid)
        assert processes.read_pid(pid_file) == proc.pid
        # Same pid, other start time: another process got the pid.
        pid_file.write_text(f"{proc.pid} 1\n")
        assert processes.read_pid(pid_file) is None
        processes.write_pid(pid_file, proc.pid)
        processes.terminate([proc.pid], timeout=5)
        proc.wait(timeout=5)
        assert processes.read_pid(pid_file) is None
    finally:
        proc.kill()
        proc.wait()


def test_down_without_a_deployment_is_a_no_op(tmp_path: Path) -> None:
    dep = launcher.Deployment(private_default_topology(tmp_path / "none"))
    assert launcher.down(dep, purge=False) == []
    assert launcher.down(dep, purge=True) == []


def test_purge_refuses_a_directory_that_is_not_a_state_dir(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    dep = launcher.Deployment(private_default_topology(tmp_path))
    with pytest.raises(launcher.LauncherError, match="does not look like"):
        launcher.down(dep, purge=True)
    assert (tmp_path / "precious.txt").exists()


def test_security_group_rules_match_neutron_spellings() -> None:
    rules = bootstrap.SECURITY_GROUPS[bootstrap.MGMT_SEC_GRP][1]
    assert len(rules) == 8
    assert {(r.protocol, r.ethertype, r.port) for r in rules} >= {
        ("icmp", "IPv4", None), ("ipv6-icmp", "IPv6", None), ("tcp", "IPv6", 9443)}
    v6 = bootstrap.Rule("ipv6-icmp", "IPv6")
    assert v6.matches({"direction": "ingress", "protocol": "icmpv6", "ethertype": "IPv6",
                       "port_range_min": None, "port_range_max": None})
    assert not v6.matches({"direction": "egress", "protocol": None, "ethertype": "IPv6",
                           "port_range_min": None, "port_range_max": None})
    hm = bootstrap.SECURITY_GROUPS[bootstrap.HEALTH_MGR_SEC_GRP][1]
    assert {(r.protocol, r.ethertype, r.port) for r in hm} == {
        ("udp", "IPv4", 5555), ("udp", "IPv6", 5555),  # heartbeats
        ("udp", "IPv4", 10514), ("udp", "IPv6", 10514)}  # offloaded logs


def test_catalog_lists_network_per_region(deployment: launcher.Deployment) -> None:
    entries = bootstrap.catalog(deployment.topology, services(deployment.topology))
    network = {(e.region, e.url) for e in entries if e.service_type == "network"}
    assert network == {("CentralRegion", "http://127.0.0.1:9696"),
                       ("RegionOne", "http://127.0.0.1:9701"),
                       ("RegionTwo", "http://127.0.0.1:9702")}
    assert {e.region for e in entries if e.service_type == "identity"} == {
        "CentralRegion", "RegionOne", "RegionTwo"}


def test_state_dir_is_created_private(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path / "s")
    paths.create()
    for d in (paths.root, paths.etc, paths.log, paths.run):
        assert d.is_dir()
    assert stat.S_IMODE(os.stat(paths.root).st_mode) == 0o700


def test_secrets_of_an_older_release_keep_their_passwords(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path / "old")
    paths.create()
    paths.secrets.write_text("[secrets]\nadmin_password = a\nservice_password = s\n"
                             "demo_password = d\n")
    secrets = Secrets.load_or_create(paths)
    assert (secrets.admin_password, secrets.service_password, secrets.demo_password) == \
        ("a", "s", "d")
    assert len(secrets.heartbeat_key) >= 24
    assert Secrets.load_or_create(paths) == secrets
