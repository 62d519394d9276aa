"""Parsing and validating the topology file."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tricircle_lb.deploy import topology
from tricircle_lb.deploy.topology import TopologyError, parse

MINIMAL = """
[region:RegionOne]
availability_zone = az1
network_port = 9701
mgmt_subnet_cidr = 192.168.10.0/24
"""

THIRD = """
[region:RegionThree]
availability_zone = az3
network_port = 9703
mgmt_subnet_cidr = 192.168.30.0/24
controller_host = r3-ctl
"""


def test_packaged_default_has_two_regions_and_the_spec_values() -> None:
    topo = topology.load()
    assert topo.state_dir == Path("/var/lib/tricircle-lb")
    assert topo.bind_host == "127.0.0.1"
    assert topo.identity.port == 5000 and topo.identity.token_expiration == 3600
    assert topo.central.region_name == "CentralRegion" and topo.central.port == 9696
    assert topo.central.tenant_network_types == ("vxlan", "local", "vlan", "flat")
    assert topo.central.vni_ranges == ("1001:2000",)
    assert topo.central.network_vlan_ranges == ("physnet1:100:199",)
    assert topo.central.flat_networks == ("physnet2",)
    assert topo.central.physical_networks == ("physnet1", "physnet2")
    assert (topo.underlay_cidr, topo.prefix) == ("198.18.0.0/15", "tcl-")
    one, two = topo.regions
    assert (one.name, one.index, one.availability_zone, one.network_port) == (
        "RegionOne", 1, "az1", 9701)
    assert one.mgmt_subnet_cidr == ipaddress.ip_network("192.168.10.0/24")
    assert one.controller_host == "RegionOne-controller"
    assert (one.compute_port, two.compute_port) == (8774, 8775)
    assert one.hosts == ("RegionOne-host1", "RegionOne-host2")
    assert one.all_hosts == ("RegionOne-controller", "RegionOne-host1", "RegionOne-host2")
    assert topo.hosts[3:] == ("RegionTwo-controller", "RegionTwo-host1", "RegionTwo-host2")
    assert (one.mgmt_net_name, one.mgmt_subnet_name) == ("lb-mgmt-net1", "lb-mgmt-subnet1")
    assert (two.mgmt_net_name, two.mgmt_subnet_name) == ("lb-mgmt-net2", "lb-mgmt-subnet2")
    assert two.health_manager_port_name == "octavia-health-manager-RegionTwo-listen-port"
    assert topo.region_names == ("RegionOne", "RegionTwo")


def test_a_third_region_is_one_more_stanza() -> None:
    topo = parse(topology.default_topology_text() + THIRD)
    assert topo.region_names == ("RegionOne", "RegionTwo", "RegionThree")
    three = topo.region("RegionThree")
    assert three.index == 3 and three.mgmt_net_name == "lb-mgmt-net3"
    assert three.controller_host == "r3-ctl"


def test_minimal_file_takes_defaults() -> None:
    topo = parse(MINIMAL)
    assert topo.identity.port == 5000
    assert topo.central.port == 9696
    assert topo.regions[0].controller_host == "RegionOne-controller"
    assert (topo.loadbalancer.job_max_attempts, topo.loadbalancer.job_backoff_max) == (30, 10)


def test_one_key_manager_on_barbicans_port_unless_told() -> None:
    assert parse(MINIMAL).key_manager.port == 9311
    assert parse("[key_manager]\nport = 19311\n" + MINIMAL).key_manager.port == 19311


def test_the_controllers_retries_are_set_once_for_every_region() -> None:
    topo = parse("[loadbalancer]\njob_max_attempts = 4\njob_backoff_max = 1\n" + MINIMAL)
    assert (topo.loadbalancer.job_max_attempts, topo.loadbalancer.job_backoff_max) == (4, 1)


def test_state_dir_override_and_relative_paths(tmp_path: Path) -> None:
    assert parse(MINIMAL, state_dir=tmp_path).state_dir == tmp_path
    topo = parse("[DEFAULT]\nstate_dir = rel/state\n" + MINIMAL)
    assert topo.state_dir.is_absolute() and topo.state_dir.parts[-2:] == ("rel", "state")


def test_config_file_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(topology.CONFIG_ENV, raising=False)
    assert topology.config_source(None) is None
    monkeypatch.setenv(topology.CONFIG_ENV, str(tmp_path / "t.ini"))
    assert topology.config_source(None) == tmp_path / "t.ini"
    assert topology.config_source(Path("x.ini")) == Path("x.ini")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read topology file"):
        topology.load(tmp_path / "missing.ini")


def test_unknown_region_lookup() -> None:
    with pytest.raises(TopologyError, match="unknown region 'Nowhere'"):
        parse(MINIMAL).region("Nowhere")


@pytest.mark.parametrize(("text", "message"), [
    ("", "at least one \\[region:NAME\\] section"),
    ("[identity]\nport = 9701\n" + MINIMAL,
     "\\[region:RegionOne\\] network_port = 9701 is already used by \\[identity\\] port"),
    ("[central]\nport = 5000\n" + MINIMAL, "\\[central\\] port = 5000 is already used"),
    (MINIMAL + "[region:RegionTwo]\navailability_zone = az2\nnetwork_port = 9701\n"
     "mgmt_subnet_cidr = 192.168.20.0/24\n", "network_port = 9701 is already used"),
    (MINIMAL + "[region:RegionTwo]\navailability_zone = az1\nnetwork_port = 9702\n"
     "mgmt_subnet_cidr = 192.168.20.0/24\n", "availability_zone = az1 is already used"),
    (MINIMAL + "[region:RegionTwo]\navailability_zone = az2\nnetwork_port = 9702\n"
     "mgmt_subnet_cidr = 192.168.10.128/25\n", "overlaps"),
    (MINIMAL + MINIMAL, "section 'region:RegionOne' already exists"),
    ("[identity]\nport = 70000\n" + MINIMAL, "\\[identity\\] port: 70000 is not 1..65535"),
    ("[identity]\nport = http\n" + MINIMAL, "\\[identity\\] port: 'http' is not an integer"),
    ("[identity]\ntoken_expiration = 5\n" + MINIMAL, "token_expiration: 5 is not at least 60"),
    ("[identity]\nprot = 5000\n" + MINIMAL, "\\[identity\\] unknown option 'prot'"),
    ("[keystone]\nport = 1\n" + MINIMAL, "unknown section \\[keystone\\]"),
    ("[DEFAULT]\nbind_host = localhost\n" + MINIMAL, "bind_host: 'localhost' is not an IP"),
    ("[DEFAULT]\nbind_host =\n" + MINIMAL, "\\[DEFAULT\\] bind_host is empty"),
    ("[central]\ntenant_network_types = vxlan,gre\n" + MINIMAL, "unknown type 'gre'"),
    ("[central]\ntenant_network_types = vxlan,vxlan\n" + MINIMAL, "listed twice"),
    ("[central]\nvni_ranges = 10-20\n" + MINIMAL, "vni_ranges: bad range '10-20'"),
    ("[central]\nvni_ranges = 0:20\n" + MINIMAL, "not within 1..16777215"),
    ("[central]\nvni_ranges = 30:20\n" + MINIMAL, "not within 1..16777215"),
    ("[central]\nnetwork_vlan_ranges = physnet1:100:5000\n" + MINIMAL, "not within 1..4094"),
    ("[central]\nnetwork_vlan_ranges = physnet1:1\n" + MINIMAL, "bad range '1'"),
    ("[central]\nregion_name = Central Region\n" + MINIMAL, "region_name: 'Central Region'"),
    ("[central]\nregion_name = RegionOne\n" + MINIMAL, "already used by \\[central\\]"),
    (MINIMAL.replace("192.168.10.0/24", "192.168.10.1/24"), "mgmt_subnet_cidr: .*host bits"),
    (MINIMAL.replace("192.168.10.0/24", "10.0.0.0/30"), "is too small"),
    (MINIMAL.replace("network_port = 9701\n", ""), "network_port is required"),
    (MINIMAL.replace("az1", "az 1"), "availability_zone: 'az 1'"),
    (MINIMAL.replace("RegionOne", "1Region"), "region name '1Region'"),
    (MINIMAL + "controller_host = bad host\n", "controller_host: 'bad host'"),
    (MINIMAL + "colour = blue\n", "\\[region:RegionOne\\] unknown option 'colour'"),
    ("[identity\nport = 1\n", "File contains no section headers"),
    ("[loadbalancer]\njob_max_attempts = 0\n" + MINIMAL, "job_max_attempts: 0 is not 1..1000"),
    ("[loadbalancer]\njob_backoff_max = 1.5\n" + MINIMAL, "job_backoff_max: '1.5' is not an"),
    ("[loadbalancer]\nmax_attempts = 3\n" + MINIMAL, "unknown option 'max_attempts'"),
    ("[key_manager]\nport = 9701\n" + MINIMAL,
     "network_port = 9701 is already used by \\[key_manager\\] port"),
    ("[key_manager]\nport = 0\n" + MINIMAL, "\\[key_manager\\] port: 0 is not 1..65535"),
    ("[key_manager]\nkek = x\n" + MINIMAL, "\\[key_manager\\] unknown option 'kek'"),
])
def test_bad_values_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        parse(text, "t.ini")


def test_errors_name_the_file() -> None:
    with pytest.raises(TopologyError, match=r"^t\.ini: "):
        parse("", "t.ini")


def test_ipv6_management_subnet_and_flat_wildcard() -> None:
    topo = parse("[central]\nflat_networks = *\n" +
                 MINIMAL.replace("192.168.10.0/24", "fd00:10::/64"))
    assert topo.regions[0].mgmt_subnet_cidr.version == 6
    assert topo.central.flat_networks == ("*",)
