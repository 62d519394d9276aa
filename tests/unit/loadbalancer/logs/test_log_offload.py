"""The region's syslog endpoint: real datagrams in, files per load balancer out.

Senders are real: Python's ``SysLogHandler`` (what the amphora agent uses) and a real
HAProxy whose frontend logs Octavia's flow format to the receiver on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import logging
import logging.handlers
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tricircle_lb.common.config import ConfigError
from tricircle_lb.loadbalancer.amphora import model
from tricircle_lb.loadbalancer.amphora.agent.config import AmphoraAgentConfig
from tricircle_lb.loadbalancer.amphora.agent.main import offload_logs
from tricircle_lb.loadbalancer.amphora.haproxy_config import ConfigRenderError, render
from tricircle_lb.loadbalancer.amphora.log_config import LogTargets
from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig
from tricircle_lb.loadbalancer.logs.files import LogFiles
from tricircle_lb.loadbalancer.logs.flow_format import flow_log_format
from tricircle_lb.loadbalancer.logs.receiver import LogReceiver, Sender
from tricircle_lb.loadbalancer.logs.syslog import LOCAL0, LOCAL1, BadLine, parse

LB, OTHER_LB, AMP, PROJECT = (str(uuid.uuid4()) for _ in range(4))


def _sender(address: str) -> Sender | None:
    return Sender(AMP, LB) if address == "127.0.0.1" else None


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[LogReceiver, int]]:
    files = LogFiles(tmp_path / "amphorae", max_bytes=4096, backup_count=2)
    rec = LogReceiver(files, _sender)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=rec.serve, args=(sock, stop), daemon=True)
    thread.start()
    try:
        yield rec, sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
        files.close()


def _wait_for_line(path: Path, needle: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                if needle in line:
                    return line
        time.sleep(0.05)
    raise AssertionError(f"no line with {needle!r} in {path}")


@pytest.mark.parametrize(("data", "facility", "message"), [
    (b"<134>Dec  7 19:02:11 haproxy[812]: a b c", LOCAL0, "a b c"),
    (b"<142>Dec 17 09:02:11 amp-1 haproxy[812]: x", LOCAL1, "x"),
    (b"<139>amphora-agent: plugged eth1\x00", LOCAL1, "amphora-agent: plugged eth1"),
    (b"<134>1 2026-12-07T19:02:11Z amp haproxy 812 - - hello", LOCAL0, "hello"),
    (b"<134>1 2026-12-07T19:02:11Z amp haproxy 812 - [a b=\"c\"] hi", LOCAL0, "hi"),
])
def test_parse_takes_the_message_whatever_the_header(data: bytes, facility: int,
                                                     message: str) -> None:
    line = parse(data)
    assert (line.facility, line.message) == (facility, message)


@pytest.mark.parametrize("data", [b"", b"hello", b"<999>x", b"<a>x"])
def test_parse_refuses_what_has_no_priority(data: bytes) -> None:
    with pytest.raises(BadLine):
        parse(data)


def test_flow_lines_go_to_their_load_balancer_and_nowhere_else(tmp_path: Path) -> None:
    files = LogFiles(tmp_path)
    rec = LogReceiver(files, _sender)
    assert rec.receive(f"<134>{PROJECT} {LB} f 10.0.0.9 4242".encode(), "127.0.0.1")
    # An amphora naming another load balancer, and an address that is no amphora's.
    assert not rec.receive(f"<134>{PROJECT} {OTHER_LB} f".encode(), "127.0.0.1")
    assert not rec.receive(f"<134>{PROJECT} {LB} f".encode(), "127.0.0.2")
    assert not rec.receive(b"no priority", "127.0.0.1")
    files.close()
    assert (files.path(LB, "flow").read_text().splitlines()
            == [f"{PROJECT} {LB} f 10.0.0.9 4242"])
    assert not (tmp_path / OTHER_LB).exists()
    assert (rec.counters.written, rec.counters.foreign, rec.counters.unknown_sender,
            rec.counters.malformed) == (1, 1, 1, 1)
    assert files.path(LB, "flow").stat().st_mode & 0o777 == 0o640


def test_files_rotate_by_size(tmp_path: Path) -> None:
    files = LogFiles(tmp_path, max_bytes=1000, backup_count=2)
    for i in range(100):
        files.write(LB, "amphora", f"line {i:03d} " + "x" * 40)
    files.close()
    current = files.path(LB, "amphora")
    assert current.with_name("amphora.log.1").exists()
    assert not current.with_name("amphora.log.3").exists()
    assert current.read_text().splitlines()[-1].startswith("line 099")


def test_the_agents_syslog_handler_reaches_the_admin_log(
        receiver: tuple[LogReceiver, int]) -> None:
    rec, port = receiver
    handler = logging.handlers.SysLogHandler(
        ("127.0.0.1", port), facility=logging.handlers.SysLogHandler.LOG_LOCAL1)
    handler.setFormatter(logging.Formatter("amphora-agent: %(message)s"))
    log = logging.getLogger(f"test-offload-{uuid.uuid4()}")
    log.addHandler(handler)
    log.warning("vip plugged on eth1")
    handler.close()
    line = _wait_for_line(rec.files.path(LB, "amphora"), "vip plugged")
    assert line == f"{AMP} amphora-agent: vip plugged on eth1"


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs haproxy")
def test_haproxy_logs_a_flow_line_per_request(receiver: tuple[LogReceiver, int],
                                              tmp_path: Path) -> None:
    rec, log_port = receiver
    listener = str(uuid.uuid4())

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        front = s.getsockname()[1]
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"""
global
    log 127.0.0.1:{log_port} len 2048 local1
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend {listener}
    bind 127.0.0.1:{front}
    log 127.0.0.1:{log_port} len 2048 local0
    log-format {flow_log_format(PROJECT, LB, listener)}
    default_backend pool
backend pool
    server member-1 127.0.0.1:{backend.server_address[1]}
""")
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{front}/a", timeout=2).text == "hello"
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        httpx.get(f"http://127.0.0.1:{front}/b", timeout=2)
        first = _wait_for_line(rec.files.path(LB, "flow"), f" {listener} 200 ")
        # One line per request: the second request's arrives too.
        deadline = time.monotonic() + 10
        while len(rec.files.path(LB, "flow").read_text().splitlines()) < 2:
            assert time.monotonic() < deadline, "no line for the second request"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        backend.shutdown()
    fields = first.split(" ")
    assert fields[:5] == [PROJECT, LB, listener, "127.0.0.1", fields[4]]
    # <frontend> <ip> <port> [date] <listener> <status> <bytes> <uploaded> <verify>
    # "<dn>" <backend> <server> <time> <termination>
    assert re.match(r"\d\d/[A-Z][a-z]{2}/\d{4}:", fields[5]) and fields[6:8] == [listener, "200"]
    assert int(fields[8]) > len("hello") and fields[11] == '""'
    assert fields[12:14] == ["pool", "member-1"] and fields[15] == "----"


def test_the_agent_reads_its_log_targets_and_sends_its_own_logs(
        receiver: tuple[LogReceiver, int], tmp_path: Path) -> None:
    rec, port = receiver
    conf = tmp_path / "amphora-agent.conf"
    conf.write_text("[amphora_agent]\namphora_id = a\nheartbeat_key = k\n"
                    f"admin_log_targets = 127.0.0.1:{port}, [fd00::1]:10514\n"
                    f"tenant_log_targets = 127.0.0.1:{port}\n")
    config = AmphoraAgentConfig.read(conf)
    assert config.admin_log_targets == (("127.0.0.1", port), ("fd00::1", 10514))
    assert config.tenant_log_targets == (("127.0.0.1", port),)
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        offload_logs(config.admin_log_targets[:1])
        logging.getLogger("tricircle_lb.test").warning("haproxy reloaded")
    finally:
        for handler in set(root.handlers) - set(before):
            root.removeHandler(handler)
            handler.close()
    line = _wait_for_line(rec.files.path(LB, "amphora"), "haproxy reloaded")
    assert line == f"{AMP} amphora-agent: WARNING haproxy reloaded"


def test_a_bad_log_target_is_refused_by_name(tmp_path: Path) -> None:
    conf = tmp_path / "amphora-agent.conf"
    conf.write_text("[amphora_agent]\namphora_id = a\nheartbeat_key = k\n"
                    "tenant_log_targets = logs.example:514\n")
    with pytest.raises(ConfigError, match="tenant_log_targets: bad entry"):
        AmphoraAgentConfig.read(conf)


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs haproxy")
def test_the_amphora_renders_log_targets_haproxy_accepts(tmp_path: Path) -> None:
    listener_id, pool_id = str(uuid.uuid4()), str(uuid.uuid4())
    config = LoadBalancerConfig(
        id=LB, vip_address="10.0.0.5", project_id=PROJECT,
        listeners=(model.Listener(id=listener_id, protocol="HTTP", protocol_port=80,
                                  default_pool_id=pool_id),),
        pools=(model.Pool(id=pool_id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"),))
    targets = LogTargets(admin=(("192.168.10.2", 10514), ("fd00::2", 10514)),
                         tenant=(("192.168.10.2", 10514),))
    text = render(config, stats_socket=tmp_path / "s.sock", pid_file=tmp_path / "h.pid",
                  open_files_limit=4500, log_targets=targets)
    assert "    log 192.168.10.2:10514 len 2048 local1\n" in text
    assert "    log ipv6@fd00::2:10514 len 2048 local1\n" in text
    assert "    log 192.168.10.2:10514 len 2048 local0\n" in text
    assert f'    log-format "{PROJECT} {LB} %f %ci %cp %t {listener_id} %ST' in text
    (tmp_path / "h.cfg").write_text(text)
    checked = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "h.cfg")],
                             capture_output=True, text=True, timeout=10, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Without targets, or for a configuration with no owner: no log lines at all.
    plain = render(config, stats_socket=tmp_path / "s.sock", pid_file=tmp_path / "h.pid",
                   open_files_limit=4500)
    assert "log " not in plain and "log-format" not in plain
    with pytest.raises(ConfigRenderError, match="log targets"):
        render(config, stats_socket=tmp_path / "s.sock", pid_file=tmp_path / "h.pid",
               open_files_limit=4500, log_targets=LogTargets(admin=(("logs", 514),)))
