"""The real instance runtime: namespaces, processes, hostnames, console, removal (root)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tricircle_lb.agent.instances import NamespaceRuntime

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)")]

USER_DATA = b"""#!/bin/sh
echo "user-data pid $$"
echo "hello from $(hostname)"
python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 &
echo started web server
"""


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[NamespaceRuntime]:
    rt = NamespaceRuntime(tmp_path / "state", "test-host")
    made: list[str] = []
    original = rt.ensure_namespace

    def tracking(instance_id: str) -> str:
        made.append(instance_id)
        return original(instance_id)

    rt.ensure_namespace = tracking  # type: ignore[method-assign]
    try:
        yield rt
    finally:
        for instance_id in made:
            try:
                NamespaceRuntime(tmp_path / "state", "test-host").remove(instance_id)
            except Exception:  # last resort: never leave a namespace behind
                subprocess.run(["ip", "netns", "delete", rt.namespace(instance_id)],
                               capture_output=True)


def in_instance(rt: NamespaceRuntime, instance_id: str, *cmd: str) -> str:
    """Run ``cmd`` inside the instance: its netns, and the PID/UTS/mount of its init."""
    init = init_pid(rt, instance_id)
    return subprocess.run(["nsenter", "-t", str(init), "-n", "-u", "-p", "-m", *cmd],
                          capture_output=True, text=True, check=True).stdout


def init_pid(rt: NamespaceRuntime, instance_id: str) -> int:
    """PID 1 of the instance, seen from the host (the launcher records it)."""
    pid = rt.init_pid(instance_id)
    assert pid is not None
    return pid


def test_instance_runs_user_data_in_its_own_namespaces(runtime: NamespaceRuntime) -> None:
    instance_id = str(uuid.uuid4())
    ns = runtime.namespace(instance_id)
    assert ns == "tcl-i-" + instance_id.replace("-", "")[:12]
    assert runtime.ensure_namespace(instance_id) == ns
    assert runtime.ensure_namespace(instance_id) == ns  # idempotent
    assert ns in netns_list() and runtime.known() == [instance_id]
    assert not runtime.is_running(instance_id)

    runtime.start(instance_id, "web_1.Example", USER_DATA)
    runtime.start(instance_id, "web_1.Example", USER_DATA)  # no second copy
    assert runtime.is_running(instance_id)
    wait_for(lambda: "login:" in runtime.console(instance_id))
    console = runtime.console(instance_id)
    assert "hello from web-1.example" in console
    pid_line = next(line for line in console.splitlines() if line.startswith("user-data pid"))
    assert int(pid_line.split()[-1]) < 50  # its own PID namespace (init is 1)
    assert in_instance(runtime, instance_id, "hostname").strip() == "web-1.example"
    assert subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip() \
        != "web-1.example"
    wait_for(lambda: subprocess.run(
        ["ip", "netns", "exec", ns, "python3", "-c",
         "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/', timeout=1)"],
        capture_output=True).returncode == 0)
    # The web server is not reachable from the host: another network namespace.
    host_try = subprocess.run(
        ["python3", "-c", "import urllib.request; "
         "urllib.request.urlopen('http://127.0.0.1:8080/', timeout=1)"], capture_output=True)
    assert host_try.returncode != 0
    processes = in_instance(runtime, instance_id, "ps", "-e", "-o", "pid=,comm=")
    assert any(line.split() == ["1", "sleep"] for line in processes.splitlines()), processes

    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                          text=True).stdout.split()
    assert len(pids) >= 3  # unshare, init, the web server
    runtime.remove(instance_id)
    assert ns not in netns_list()
    assert not any(Path(f"/proc/{p}").exists() and "http.server" in
                   Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
                   for p in pids)
    assert runtime.known() == [] and not runtime.is_running(instance_id)
    runtime.remove(instance_id)  # idempotent


def test_new_runtime_finds_and_removes_an_instance(runtime: NamespaceRuntime,
                                                   tmp_path: Path) -> None:
    """What happens after the agent was killed: only the state directory and the kernel."""
    instance_id = str(uuid.uuid4())
    runtime.ensure_namespace(instance_id)
    runtime.start(instance_id, "survivor", b"echo no shebang here; sleep 1000 &\n")
    wait_for(lambda: "login:" in runtime.console(instance_id))
    assert "no shebang here" in runtime.console(instance_id)
    unshare = int((runtime.root / instance_id / "pid").read_text())
    init = init_pid(runtime, instance_id)

    fresh = NamespaceRuntime(tmp_path / "state", "test-host")
    assert fresh.known() == [instance_id]
    assert fresh.is_running(instance_id)
    fresh.start(instance_id, "survivor", None)  # already running: nothing new
    assert int((runtime.root / instance_id / "pid").read_text()) == unshare
    # Lose the pid file too: the netns' process list is the fallback.
    (runtime.root / instance_id / "pid").unlink()
    assert not fresh.is_running(instance_id)
    fresh.remove(instance_id)
    assert runtime.namespace(instance_id) not in netns_list()
    wait_for(lambda: not Path(f"/proc/{init}").exists() or
             Path(f"/proc/{init}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")
    assert fresh.known() == []


def test_instance_that_exits_is_not_running_and_console_survives(
        runtime: NamespaceRuntime) -> None:
    instance_id = str(uuid.uuid4())
    runtime.start(instance_id, "short", b"#!/bin/sh\necho bye\n")
    wait_for(lambda: "bye" in runtime.console(instance_id))
    unshare = int((runtime.root / instance_id / "pid").read_text())
    os.kill(unshare, 9)  # the "guest" crashes
    wait_for(lambda: not runtime.is_running(instance_id))
    assert "bye" in runtime.console(instance_id)
    runtime.start(instance_id, "short", b"#!/bin/sh\necho again\n")  # restart works
    wait_for(lambda: "again" in runtime.console(instance_id))
    assert runtime.is_running(instance_id)


# -- confinement (decision 063) ------------------------------------------------------------

CONFINED = """#!/bin/sh
check() {{ name=$1; shift; if "$@" >/dev/null 2>&1; then echo "CHECK $name yes"; \\
    else echo "CHECK $name no"; fi; }}
check root sh -c '[ "$(id -u)" = 0 ] && [ "$(id -g)" = 0 ]'
check cirros grep -q ID=cirros /etc/os-release
check owns-root sh -c 'echo x > /root/mine && echo y > /etc/motd && echo z > /tmp/{marker}'
check reads-state cat {secrets}
check sees-state ls {state}
check writes-host-tmp sh -c 'echo x > {host_tmp}/guest-was-here'
check lists-netns sh -c '[ -n "$(ls -A /run/netns 2>/dev/null)" ]'
check nsenter nsenter -t 1 -n true
check nsenter-pid1-mount nsenter --mount=/proc/1/ns/mnt --net=/proc/1/ns/net true
check loads-module python3 -c '
import ctypes, os, sys
fd = os.open("/dev/null", os.O_RDONLY)
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.syscall(313, fd, b"", 0) == 0 else 1)'
check modprobe modprobe dummy
check sysctl-host sh -c 'sysctl -w vm.swappiness=$(cat /proc/sys/vm/swappiness)'
check sysctl-net sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
check remounts-usr mount -o remount,rw /usr
check writes-usr touch /usr/guest-was-here
check writes-sys touch /sys/kernel/guest-was-here
check python3 python3 -c 'import ssl, json, http.server'
check curl curl --version
check wget wget --help
check nc sh -c 'command -v nc'
check ip ip -o link show lo
check dev-null sh -c 'echo x > /dev/null && [ -c /dev/urandom ] && [ -e /dev/pts/ptmx ]'
python3 -c 'b = bytearray(512 * 1024 * 1024)' >/dev/null 2>&1
echo "CHECK memory-bomb $?"
check ping ping -c 1 -W 2 127.0.0.1
python3 -m http.server 80 --bind 0.0.0.0 >/dev/null 2>&1 &
echo "CHECK web-server started"
"""


def checks(console: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[2] for line in console.splitlines()
            if line.startswith("CHECK ")}


@pytest.fixture
def client_ns(runtime: NamespaceRuntime) -> Iterator[str]:
    """Another network namespace (a client), joined to an instance's by a veth."""
    name = f"tclt-c-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def test_tenant_guest_is_confined(runtime: NamespaceRuntime, client_ns: str,
                                  tmp_path: Path) -> None:
    from tricircle_lb.agent.instances import FIRST_GUEST_ID
    from tricircle_lb.guest import cgroups
    from tricircle_lb.guest.cgroups import Limits

    instance_id = str(uuid.uuid4())
    secrets = tmp_path / "state" / "secrets.ini"
    secrets.parent.mkdir(parents=True, exist_ok=True)
    secrets.write_text("[secrets]\nadmin_password = hunter2\n")
    marker = f"tcl-guest-{instance_id[:8]}"
    user_data = CONFINED.format(marker=marker, secrets=secrets, state=tmp_path / "state",
                                host_tmp=tmp_path).encode()
    ns = runtime.ensure_namespace(instance_id)
    runtime.start(instance_id, "confined", user_data, Limits(memory_mb=128, vcpus=1))
    try:
        wait_for(lambda: "login:" in runtime.console(instance_id), timeout=60)
        console = runtime.console(instance_id)
        found = checks(console)
        assert found == {
            "root": "yes", "cirros": "yes", "owns-root": "yes",
            "reads-state": "no", "sees-state": "no", "writes-host-tmp": "no",
            "lists-netns": "no", "nsenter": "no", "nsenter-pid1-mount": "no",
            "loads-module": "no", "modprobe": "no", "sysctl-host": "no", "sysctl-net": "no",
            "remounts-usr": "no", "writes-usr": "no", "writes-sys": "no",
            "python3": "yes", "curl": "yes", "wget": "yes", "nc": "yes", "ip": "yes",
            "dev-null": "yes", "ping": "yes",
            "memory-bomb": "137",  # SIGKILLed by the memory cgroup's OOM killer
            "web-server": "started"}, console
        # Outside, the guest's root is an unprivileged id of its own range.
        init = init_pid(runtime, instance_id)
        status = Path(f"/proc/{init}/status").read_text()
        uids = next(line.split()[1:] for line in status.splitlines()
                    if line.startswith("Uid:"))
        base = int((runtime.root / instance_id / "uid-base").read_text())
        assert base >= FIRST_GUEST_ID and uids == [str(base)] * 4
        assert Path(f"/proc/{init}/uid_map").read_text().split() == ["0", str(base), "65536"]
        assert os.stat(f"/proc/{init}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino
        assert not Path("/tmp", marker).exists() and not (tmp_path / "guest-was-here").exists()
        assert not Path("/usr/guest-was-here").exists()
        # What ``tricircle-lb exec`` runs (deploy/probe.py): the guest's root, unprivileged.
        enter = ["nsenter", "--target", str(init), "--user", "--net", "--uts", "--ipc",
                 "--pid", "--mount"]
        assert subprocess.run([*enter, "id", "-u"], capture_output=True,
                              text=True).stdout.strip() == "0"
        assert subprocess.run([*enter, "cat", str(secrets)], capture_output=True).returncode
        # Its files on the host belong to its range.
        upper = runtime.root / instance_id / "disk" / "upper"
        assert (upper / "root" / "mine").stat().st_uid == base
        # Its cgroups carry its flavor.
        directories = cgroups.paths("tcl-", instance_id)
        assert directories and all(d.is_dir() for d in directories)
        for directory in directories:
            assert str(init) in (directory / "cgroup.procs").read_text().split()
            if (directory / "memory.limit_in_bytes").exists():
                assert (directory / "memory.limit_in_bytes").read_text().strip() \
                    == str(128 * 1024 * 1024)
            if (directory / "cpu.cfs_quota_us").exists():
                assert (directory / "cpu.cfs_quota_us").read_text().strip() == "100000"
        # Its web server (port 80, as the demo's) answers a client in another namespace.
        subprocess.run(["ip", "link", "add", "tclt-veth0", "netns", client_ns, "type", "veth",
                        "peer", "name", "eth0", "netns", ns], check=True)
        for where, dev, address in ((client_ns, "tclt-veth0", "10.254.0.1/30"),
                                    (ns, "eth0", "10.254.0.2/30")):
            subprocess.run(["ip", "-n", where, "addr", "add", address, "dev", dev], check=True)
            subprocess.run(["ip", "-n", where, "link", "set", dev, "up"], check=True)
        wait_for(lambda: subprocess.run(
            ["ip", "netns", "exec", client_ns, "curl", "-sf", "-m", "1",
             "http://10.254.0.2/etc/os-release"], capture_output=True).returncode == 0,
            timeout=20)
    finally:
        runtime.remove(instance_id)
    assert not any(d.exists() for d in cgroups.paths("tcl-", instance_id))
    assert not Path(f"/proc/{init}").exists() or \
        Path(f"/proc/{init}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_service_guest_keeps_only_what_haproxy_and_keepalived_need(
        runtime: NamespaceRuntime, tmp_path: Path) -> None:
    instance_id = str(uuid.uuid4())
    runtime.start(instance_id, "amphora", b"""#!/bin/sh
id -u
ip addr add 192.0.2.10/32 dev lo && echo "CHECK vip yes"
ls /run/netns >/dev/null 2>&1 || echo "CHECK netns hidden"
mount -t tmpfs x /mnt 2>/dev/null || echo "CHECK mount refused"
[ -e %s ] || echo "CHECK state hidden"
""" % str(runtime.root).encode(), service=True)
    try:
        wait_for(lambda: "login:" in runtime.console(instance_id))
        found = checks(runtime.console(instance_id))
        assert found == {"vip": "yes", "netns": "hidden", "mount": "refused",
                         "state": "hidden"}, runtime.console(instance_id)
        init = init_pid(runtime, instance_id)
        status = Path(f"/proc/{init}/status").read_text()
        bounding = int(next(line.split()[1] for line in status.splitlines()
                            if line.startswith("CapBnd:")), 16)
        assert not bounding & (1 << 21)  # CAP_SYS_ADMIN
        assert not bounding & (1 << 16)  # CAP_SYS_MODULE
        assert bounding & (1 << 12) and bounding & (1 << 13)  # NET_ADMIN, NET_RAW
    finally:
        runtime.remove(instance_id)


def test_a_guest_whose_namespace_was_lost_is_removed_whole(runtime: NamespaceRuntime) -> None:
    from tricircle_lb.guest import cgroups

    instance_id = str(uuid.uuid4())
    runtime.start(instance_id, "lost", b"sleep 1000 &\n")
    wait_for(lambda: "login:" in runtime.console(instance_id))
    init = init_pid(runtime, instance_id)
    subprocess.run(["ip", "netns", "delete", runtime.namespace(instance_id)], check=True)
    assert runtime.lost(instance_id) and not runtime.is_running(instance_id)
    runtime.remove(instance_id)
    wait_for(lambda: not Path(f"/proc/{init}").exists() or
             Path(f"/proc/{init}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")
    assert not any(d.exists() for d in cgroups.paths("tcl-", instance_id))
    assert runtime.known() == []
