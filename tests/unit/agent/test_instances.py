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
    """PID 1 of the instance, seen from the host: the child of its ``unshare``."""
    unshare = int((rt.root / instance_id / "pid").read_text())
    children = Path(f"/proc/{unshare}/task/{unshare}/children").read_text().split()
    return int(children[0])


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
