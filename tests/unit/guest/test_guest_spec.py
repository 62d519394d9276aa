"""What the agent asks of a guest: flavor limits, service or tenant, id ranges, spec."""

from __future__ import annotations

import base64
from pathlib import Path

from tricircle_lb.agent.desired import build
from tricircle_lb.agent.instances import FIRST_GUEST_ID, GUEST_IDS, NamespaceRuntime
from tricircle_lb.compute.catalog import image_id_of
from tricircle_lb.guest.cgroups import Limits
from tricircle_lb.guest.launcher import GuestSpec


def _server(server_id: str, image: str, flavor: object) -> dict[str, object]:
    return {"id": server_id, "name": server_id, "status": "BUILD",
            "image": {"id": image_id_of("RegionOne", image)}, "flavor": flavor,
            "OS-EXT-SRV-ATTR:host": "host1",
            "OS-EXT-SRV-ATTR:user_data": base64.b64encode(b"echo hi\n").decode()}


def test_flavor_and_image_decide_limits_and_kind() -> None:
    servers = [
        # Microversion 2.47 and later: the flavor itself.
        _server("vm", "cirros", {"vcpus": 2, "ram": 512, "disk": 1,
                                 "original_name": "m1.tiny"}),
        _server("amp", "amphora-x64-haproxy", {"vcpus": 1, "ram": 1024, "disk": 2}),
        _server("old", "cirros", {"id": "1", "links": []}),  # before 2.47: a link
    ]
    desired = build(host="host1", tunnel_ip="192.0.2.1", local_ports=[], network_ports=[],
                    networks=[], subnets=[], servers=servers,
                    instance_namespace=lambda i: f"tcl-i-{i}", region="RegionOne")
    vm, amp, old = (desired.instances[i] for i in ("vm", "amp", "old"))
    assert (vm.limits, vm.service) == (Limits(memory_mb=512, vcpus=2), False)
    assert (amp.limits, amp.service) == (Limits(memory_mb=1024, vcpus=1), True)
    assert (old.limits, old.service) == (None, False)


def test_id_ranges_are_stable_distinct_and_unprivileged(tmp_path: Path) -> None:
    hosts = [NamespaceRuntime(tmp_path, "host1"), NamespaceRuntime(tmp_path, "host2")]
    bases = {}
    for n in range(40):
        runtime = hosts[n % 2]
        instance_id = f"vm-{n}"
        runtime._dir(instance_id).mkdir(parents=True)
        bases[instance_id] = runtime._uid_base(instance_id)
    assert len(set(bases.values())) == 40  # hosts of one machine share the ranges
    assert all(b >= FIRST_GUEST_ID and (b - FIRST_GUEST_ID) % GUEST_IDS == 0
               for b in bases.values())
    again = NamespaceRuntime(tmp_path, "host1")  # an agent restart: the same range
    assert again._uid_base("vm-0") == bases["vm-0"]


def test_a_collision_moves_to_the_next_free_range(tmp_path: Path) -> None:
    runtime = NamespaceRuntime(tmp_path, "host1")
    runtime._dir("a").mkdir(parents=True)
    first = runtime._uid_base("a")
    (runtime._dir("a") / "uid-base").unlink()
    runtime._dir("b").mkdir(parents=True)
    (runtime._dir("b") / "uid-base").write_text(f"{first}\n")  # b holds a's natural slot
    assert runtime._uid_base("a") == first + GUEST_IDS


def test_spec_survives_its_file(tmp_path: Path) -> None:
    spec = GuestSpec(instance_id="vm", netns="tcl-i-vm", hostname="web", folder="/s/vm",
                     image="/img/cirros", init="exec sleep 1", user_data="/s/vm/user-data",
                     uid_base=FIRST_GUEST_ID, cgroups=["/sys/fs/cgroup/pids/x"],
                     binds=["/usr"])
    spec.dump(tmp_path / "guest.json")
    loaded = GuestSpec.load(tmp_path / "guest.json")
    assert loaded == spec and loaded.tenant
    assert not GuestSpec(**{**spec.__dict__, "uid_base": None}).tenant
