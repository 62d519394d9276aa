"""A private embedded deployment for one benchmark run, always removed afterwards.

Like the test suite's deployment: its own free 127.0.0.1 ports, a state
directory under a temporary directory and a namespace prefix of its own
(``tcl-t<hex>-``), started with the real CLI (``tricircle-lb up --detach``)
and removed with ``down --purge`` on the way out, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from tricircle_lb.deploy.probe import probe_namespace

BIN = Path(sys.executable).parent
TRICIRCLE_LB = str(BIN / "tricircle-lb")
REGIONS = ("RegionOne", "RegionTwo")


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _topology(state_dir: Path, prefix: str) -> str:
    """Two regions of two hosts each, like the default topology, on free ports."""
    n = len(REGIONS)
    ports = _free_ports(2 + 3 * n)
    lines = ["[DEFAULT]", f"state_dir = {state_dir}", "bind_host = 127.0.0.1", "",
             "[identity]", f"port = {ports[0]}", "token_expiration = 7200", "",
             "[central]", "region_name = CentralRegion", f"port = {ports[1]}", "",
             "[underlay]", f"prefix = {prefix}", ""]
    for i, name in enumerate(REGIONS):
        lines += [f"[region:{name}]", f"availability_zone = az{i + 1}",
                  f"network_port = {ports[2 + i]}", f"compute_port = {ports[2 + n + i]}",
                  f"loadbalancer_port = {ports[2 + 2 * n + i]}",
                  f"mgmt_subnet_cidr = 192.168.{10 * (i + 1)}.0/24",
                  f"controller_host = {name}-controller",
                  f"hosts = {name}-host1, {name}-host2", ""]
    return "\n".join(lines)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "TRICIRCLE_LB_"))}


@dataclass(frozen=True)
class Deployment:
    root: Path
    prefix: str

    @property
    def config(self) -> Path:
        return self.root / "topology.ini"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def identity_url(self) -> str:
        for line in self.config.read_text().splitlines():
            if line.startswith("port = "):  # the first port is identity's
                return f"http://127.0.0.1:{line.split('=')[1].strip()}/v3"
        raise RuntimeError("no identity port in the topology")

    def admin_password(self) -> str:
        for line in (self.state_dir / "secrets.ini").read_text().splitlines():
            key, _, value = line.partition(" = ")
            if key == "admin_password":
                return value
        raise RuntimeError("no admin password in secrets.ini")

    def cli(self, *args: str, timeout: float = 600) -> str:
        """``tricircle-lb ARGS`` against this deployment; its stdout (raises on failure)."""
        result = subprocess.run(
            [TRICIRCLE_LB, args[0], "--config", str(self.config), "--state-dir",
             str(self.state_dir), *args[1:]], capture_output=True, text=True, env=_env(),
            timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"tricircle-lb {args[0]} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def probe(self, region: str, network_id: str) -> str:
        """A kept probe on ``network_id`` in ``region`` (made with ``tricircle-lb exec``);
        its namespace, where the load tools run."""
        self.cli("exec", "--region", region, "--network", network_id, "--keep-probe",
                 "--", "true")
        return probe_namespace(self.prefix, REGIONS.index(region) + 1, network_id)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def deployment() -> Iterator[Deployment]:
    """Start a private deployment; ``down --purge`` it however the block ends."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    with tempfile.TemporaryDirectory(prefix="tcl-bench-") as tmp:
        os.chmod(tmp, 0o755)  # members' nginx workers run as nobody
        dep = Deployment(Path(tmp), f"tcl-t{secrets.token_hex(3)}-")
        dep.config.write_text(_topology(dep.state_dir, dep.prefix))
        try:
            print(f"starting a private deployment (prefix {dep.prefix}) …", flush=True)
            dep.cli("up", "--detach")
            yield dep
        finally:
            # A second Ctrl-C must not cut the clean-up short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            with contextlib.suppress(Exception):
                dep.cli("down", "--purge", timeout=300)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, previous)
