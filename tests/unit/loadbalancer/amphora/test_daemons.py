"""The lifecycle HAProxy and nginx share (agent/daemons.py), with real processes and sockets.

HAProxy's and nginx's own paths through it are in test_udp_proxy.py and
test_amphora_client.py; here what both rely on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tricircle_lb.loadbalancer.amphora.agent.daemons import (
    Daemon,
    DaemonFailed,
    bound,
    process_alive,
)

# Forks, writes its pid where the daemon's pid file is, and sleeps with the
# configuration file on its command line, as a daemonizing proxy does.
FAKE = """
import os, sys, time
if os.fork():
    sys.exit(0)
os.setsid()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
open(sys.argv[1], "w").write(f"{os.getpid()}\\n")
time.sleep(60)
"""


class Failed(DaemonFailed):
    pass


def _daemon(tmp_path: Path) -> Daemon:
    return Daemon("fake", tmp_path / "fake.conf", tmp_path / "fake.pid", Failed)


def test_start_finds_the_master_and_stop_removes_it_and_its_files(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    daemon.install("one\n")
    extra = tmp_path / "fake.sock"
    extra.write_text("")
    daemon.start([sys.executable, "-c", FAKE, str(daemon.pid_file), str(daemon.config_file)],
                 lambda: True)
    pid = daemon.master_pid()
    try:
        assert pid is not None and process_alive(pid)
        assert daemon.running("one\n") and not daemon.running("two\n")
    finally:
        daemon.stop(forget=(extra,))
    assert not process_alive(pid)
    assert not any(p.exists() for p in (daemon.config_file, daemon.pid_file, extra))
    daemon.stop()  # idempotent


def test_a_pid_file_naming_another_process_is_not_our_master(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    daemon.install("x\n")
    daemon.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not running our file
    assert daemon.master_pid() is None
    daemon.pid_file.write_text("not a pid\n")
    assert daemon.master_pid() is None


def test_a_daemon_that_fails_to_start_raises_its_own_error(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    with pytest.raises(Failed, match="fake did not start: nope"):
        daemon.start([sys.executable, "-c", "import sys; sys.exit('nope')"], lambda: True)


def test_check_reports_the_refusal_and_leaves_the_running_file(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    daemon.install("running\n")

    def checker(candidate: Path) -> list[str]:
        script = ("import sys; t = open(sys.argv[1]).read(); "
                  "sys.exit('bad line 1') if 'bad' in t else None")
        return [sys.executable, "-c", script, str(candidate)]

    assert daemon.check("good\n", checker) is None
    assert daemon.check("bad\n", checker) == "bad line 1"
    assert daemon.config_file.read_text() == "running\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.conf"]


def test_bound_reads_udp_and_listening_tcp_sockets() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        udp.bind(("127.0.0.1", 0))
        tcp.bind(("127.0.0.1", 0))
        udp_port, tcp_port = udp.getsockname()[1], tcp.getsockname()[1]
        assert bound("udp", "127.0.0.1", udp_port)
        assert not bound("tcp", "127.0.0.1", tcp_port)  # bound, not listening yet
        tcp.listen()
        assert bound("tcp", "127.0.0.1", tcp_port)
    assert not bound("udp", "127.0.0.1", udp_port)


def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        pass
    assert not process_alive(child.pid)
    child.wait()
    assert not process_alive(child.pid)
