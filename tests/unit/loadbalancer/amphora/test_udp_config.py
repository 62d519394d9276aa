"""The nginx stream configuration of UDP listeners, checked by the real ``nginx -t``
(which binds the listening sockets: the VIP is 127.0.0.1 and the ports high)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tricircle_lb.loadbalancer.amphora import (
    HealthMonitor,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
    SessionPersistence,
)
from tricircle_lb.loadbalancer.amphora.udp_config import UdpConfigError, render, split

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

POOL = Pool(id="p1", protocol="UDP", lb_algorithm="ROUND_ROBIN", members=(
    Member("m1", "10.0.0.1", 53), Member("m2", "10.0.0.2", 53, weight=3),
    Member("m3", "fd00::3", 53, backup=True)),
    health_monitor=HealthMonitor("UDP-CONNECT", delay=2, timeout=1, max_retries=2))
CONFIG = LoadBalancerConfig(
    id="lb1", vip_address="127.0.0.1", pools=(POOL,),
    listeners=(Listener(id="l1", protocol="UDP", protocol_port=15353, default_pool_id="p1"),))


def _render(tmp: Path, config: LoadBalancerConfig = CONFIG, down: tuple[str, ...] = ()) -> str:
    return render(config, pid_file=tmp / "n.pid", error_log=tmp / "n.log", down=down)


def _nginx_accepts(tmp: Path, text: str) -> None:
    conf = tmp / "nginx.conf"
    conf.write_text(text)
    result = subprocess.run([NGINX, "-t", "-q", "-c", str(conf), "-e", str(tmp / "n.log")],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr + text


def _servers(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip().startswith("server ") and "{" not in line]


def test_round_robin_pool_with_backup_and_weights(tmp_path: Path) -> None:
    text = _render(tmp_path)
    _nginx_accepts(tmp_path, text)
    assert _servers(text) == [
        "server 10.0.0.1:53 weight=1 max_fails=0;  # member m1",
        "server 10.0.0.2:53 weight=3 max_fails=0;  # member m2",
        "server [fd00::3]:53 weight=1 max_fails=0 backup;  # member m3",
        "server 127.0.0.1:9 down;"]
    assert "listen 127.0.0.1:15353 udp;" in text
    assert "proxy_pass pool_p1;" in text and "proxy_timeout 50000ms;" in text
    assert "hash" not in text and "least_conn" not in text


def test_members_down_drained_or_disabled_are_down(tmp_path: Path) -> None:
    pool = replace(POOL, members=(Member("m1", "10.0.0.1", 53),
                                  Member("m2", "10.0.0.2", 53, weight=0),
                                  Member("m3", "10.0.0.3", 53, admin_state_up=False)))
    text = _render(tmp_path, replace(CONFIG, pools=(pool,)), down=("m1",))
    _nginx_accepts(tmp_path, text)
    assert [s.split(";")[0] for s in _servers(text)[:3]] == [
        "server 10.0.0.1:53 weight=1 max_fails=0 down",
        "server 10.0.0.2:53 weight=1 max_fails=0 down",
        "server 10.0.0.3:53 weight=1 max_fails=0 down"]


@pytest.mark.parametrize(("granularity", "key", "regex"), [
    (None, "$remote_addr", None),
    ("255.255.255.255", "$remote_addr", None),
    ("255.255.255.0", "$tcl_client_3", r'"~^(\d+(?:\.\d+)(?:\.\d+))\.\d+" $1;'),
    ("255.255.255.128", "$tcl_client_3", r'"~^(\d+(?:\.\d+)(?:\.\d+))\.\d+" $1;'),
    ("255.255.0.0", "$tcl_client_2", r'"~^(\d+(?:\.\d+))\.\d+" $1;'),
    ("0.0.0.0", "$tcl_client_0", 'default "all";'),
])
def test_source_ip_persistence_hashes_the_masked_client(
        tmp_path: Path, granularity: str | None, key: str, regex: str | None) -> None:
    pool = replace(POOL, session_persistence=SessionPersistence(
        "SOURCE_IP", persistence_timeout=120, persistence_granularity=granularity))
    text = _render(tmp_path, replace(CONFIG, pools=(pool,)))
    _nginx_accepts(tmp_path, text)
    assert f"hash {key} consistent;" in text
    assert "proxy_timeout 120000ms;" in text
    if regex:
        assert regex in text
    # nginx refuses "backup" with a hash: the backup is down while a primary serves.
    assert "server [fd00::3]:53 weight=1 max_fails=0 down;  # member m3" in text
    text = _render(tmp_path, replace(CONFIG, pools=(pool,)), down=("m1", "m2"))
    assert "server [fd00::3]:53 weight=1 max_fails=0;  # member m3" in text


def test_algorithms_and_allowed_cidrs(tmp_path: Path) -> None:
    listener = replace(CONFIG.listeners[0], allowed_cidrs=("192.0.2.0/24", "2001:db8::/32"))
    for algorithm, line in (("LEAST_CONNECTIONS", "least_conn;"),
                            ("SOURCE_IP", "hash $remote_addr consistent;")):
        text = _render(tmp_path, replace(CONFIG, listeners=(listener,), pools=(
            replace(POOL, lb_algorithm=algorithm),)))  # type: ignore[arg-type]
        _nginx_accepts(tmp_path, text)
        assert line in text
        assert "allow 192.0.2.0/24;\n        allow 2001:db8::/32;\n        deny all;" in text


def test_listener_without_pool_or_members_drops(tmp_path: Path) -> None:
    config = replace(CONFIG, pools=(replace(POOL, members=()),), listeners=(
        CONFIG.listeners[0], Listener(id="l2", protocol="UDP", protocol_port=15354)))
    text = _render(tmp_path, config)
    _nginx_accepts(tmp_path, text)
    assert "proxy_pass _no_pool;" in text
    assert _servers(text) == ["server 127.0.0.1:9 down;  # no members", "server 127.0.0.1:9 down;"]


def test_split_gives_udp_to_nginx_and_the_rest_to_haproxy() -> None:
    tcp_pool = Pool(id="p2", protocol="TCP", lb_algorithm="ROUND_ROBIN")
    tcp_listener = Listener(id="l2", protocol="TCP", protocol_port=53, default_pool_id="p2")
    config = replace(CONFIG, pools=(POOL, tcp_pool),
                     listeners=(CONFIG.listeners[0], tcp_listener))
    haproxy, nginx = split(config)
    assert haproxy.listeners == (tcp_listener,) and haproxy.pools == (tcp_pool,)
    assert nginx.listeners == CONFIG.listeners and nginx.pools == (POOL,)


@pytest.mark.parametrize("change", [
    {"vip_address": "127.0.0.1; include /etc/passwd"},
    {"id": "lb1 {"},
    {"pools": (replace(POOL, members=(Member("m1\n", "10.0.0.1", 53),)),)},
    {"pools": (replace(POOL, members=(Member("m1", "10.0.0.1 down", 53),)),)},
    {"pools": (replace(POOL, members=(Member("m1", "10.0.0.1", 0),)),)},
    {"pools": (replace(POOL, session_persistence=SessionPersistence(
        "SOURCE_IP", persistence_granularity="255.0.255.0")),)},
    {"pools": (replace(POOL, session_persistence=SessionPersistence(
        "HTTP_COOKIE")),)},
    {"listeners": (replace(CONFIG.listeners[0], allowed_cidrs=("0.0.0.0/0; deny",)),)},
    {"listeners": (CONFIG.listeners[0], replace(CONFIG.listeners[0], id="l2"))},
])
def test_refuses_what_could_break_or_inject(tmp_path: Path, change: dict[str, object]) -> None:
    with pytest.raises(UdpConfigError):
        _render(tmp_path, replace(CONFIG, **change))  # type: ignore[arg-type]
