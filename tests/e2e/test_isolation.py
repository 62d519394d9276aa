"""Issue 9: the tests never act on anything they did not start.

A deployment with the default prefix, state layout and ports stands in for a
user's running demo; the helpers the test suite cleans up with run beside it;
the stand-in must be intact and serving afterwards. It all happens inside a
private mount, network and PID namespace (``standin_deployment.py``), so the
stand-in never meets a real demo running on this machine, and nothing it
started outlives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.cloud, pytest.mark.root, pytest.mark.slow]

HERE = Path(__file__).parent
PRIVATE_MACHINE = r"""
set -e
mount --make-rprivate /
mkdir -p /run/netns /run/tricircle-lb
mount -t tmpfs tcl-test-netns /run/netns
mount -t tmpfs tcl-test-claims /run/tricircle-lb
ip link set lo up
exec "$0" "$@"
"""


def test_cleanup_helpers_leave_a_default_prefix_deployment_intact(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--kill-child",
         "sh", "-c", PRIVATE_MACHINE, sys.executable, str(HERE / "standin_deployment.py"),
         str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=900, stdin=subprocess.DEVNULL,
        check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["stand_in_namespaces"] >= 7, found  # the underlay and six hosts
    assert found["test_deployment_removed"], found
    assert found["second_up_refused"], found
    assert found["stand_in_intact"], found
    assert found["stand_in_serving"], found
    assert found["left_behind"] == [], found
