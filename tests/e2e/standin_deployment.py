"""The body of ``test_isolation.py``, run inside private namespaces (not a test module).

``test_isolation.py`` runs this script under ``unshare --mount --net --pid``
with a tmpfs of its own on ``/run/netns`` and ``/run/tricircle-lb``: a
machine of its own, where a deployment with the default prefix and ports can
stand in for a user's demo without meeting the real one. When the script
ends, its PID namespace ends with it, and so does every process it started.

Usage: standin_deployment.py WORKDIR   (prints one JSON line: what it found)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests_support import (
    TRICIRCLE_LB,
    clean_env,
    fresh_prefix,
    private_default_topology,
    write_topology,
)
from tricircle_lb.dataplane.teardown import teardown_all
from tricircle_lb.dataplane.underlay import Underlay
from tricircle_lb.deploy import launcher
from tricircle_lb.deploy.services import underlay_spec
from tricircle_lb.deploy.state import StatePaths


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([TRICIRCLE_LB, *args], capture_output=True, text=True,
                            env=clean_env(), timeout=600, stdin=subprocess.DEVNULL,
                            check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"tricircle-lb {' '.join(args)}: {result.stdout}{result.stderr}")
    return result


def namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=True).stdout
    return sorted(line.split()[0] for line in listed.splitlines() if line.strip())


def main(work: Path) -> dict[str, object]:
    user = work / "users-demo"
    cli("up", "--detach", "--state-dir", str(user))  # default topology, prefix and ports
    before = [n for n in namespaces() if n.startswith("tcl-")]
    found: dict[str, object] = {"stand_in_namespaces": len(before)}

    # What the test suite's helpers do, each on what it made itself:
    # 1. down of a test deployment that never started (the old unit test);
    launcher.down(launcher.Deployment(private_default_topology(work / "none")), purge=True)
    # 2. a test deployment with a fresh prefix: built, then removed by down --purge;
    mine = private_default_topology(work / "test-deployment")
    paths = StatePaths(mine.state_dir)
    paths.create()
    paths.topology.write_text(f"[underlay]\nprefix = {mine.prefix}\n")
    Underlay(underlay_spec(mine)).ensure()
    built = [n for n in namespaces() if n.startswith(mine.prefix)]
    launcher.down(launcher.Deployment(mine), purge=True)
    found["test_deployment_removed"] = bool(built) and not [
        n for n in namespaces() if n.startswith(mine.prefix)]
    # 3. the dataplane suite's session sweep of its own prefix;
    teardown_all(fresh_prefix())
    # 4. `down` of another state directory with the default topology (nothing ran there);
    cli("down", "--purge", "--state-dir", str(work / "elsewhere"))
    # 5. a second deployment on other ports but with the default prefix is refused
    #    before it builds anything, and its down leaves the stand-in alone.
    config = work / "second.ini"
    write_topology(config, work / "second")
    config.write_text(re.sub(r"(?m)^prefix = .*$", "prefix = tcl-", config.read_text()))
    second = cli("up", "--detach", "--config", str(config), check=False)
    found["second_up_refused"] = second.returncode != 0 and (
        "belongs to the deployment" in second.stderr)
    found["second_up_error"] = second.stderr.strip()[-300:]
    cli("down", "--purge", "--config", str(config))

    after = [n for n in namespaces() if n.startswith("tcl-")]
    found["stand_in_intact"] = after == before
    found["lost"] = sorted(set(before) - set(after))
    status = json.loads(cli("status", "--json", "--state-dir", str(user)).stdout)
    found["stand_in_serving"] = bool(status["supervisor_pid"]) and all(
        s["status"] == "up" for s in status["services"])
    cli("down", "--purge", "--state-dir", str(user))
    found["left_behind"] = namespaces()
    return found


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
