"""HAProxy ``show stat`` parsing, status mapping, and a real HAProxy's stats socket."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tricircle_lb.loadbalancer.health.haproxy_stats import (
    ServerStatus,
    StatsParseError,
    build_message,
    map_server_status,
    parse_stats,
    read_stats,
)
from tricircle_lb.loadbalancer.health.heartbeat import decode, encode

# HAProxy 2.6's columns, written by hand (stats of a listener, its pool with one member
# in each state, an internal "_stats" proxy and a per-socket listener row, type 3).
HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
    "wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,"
    "sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
    "check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,"
    "req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
    "lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,"
    "agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,"
    "agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,"
    "intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,"
    "qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,"
    "used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,"
    "agg_check_status,-,"
)
NCOLS = len(HEADER[2:].split(","))
COLS = HEADER[2:].split(",")


def row(**values: object) -> str:
    return ",".join(str(values.get(c, "")) for c in COLS)


LISTENER = "5d4f1c2a-1111-4a4a-9a9a-000000000001"
POOL = "7e8f9a0b-2222-4b4b-8b8b-000000000002"
M = [f"a1b2c3d4-3333-4c4c-8c8c-00000000000{i}" for i in range(1, 9)]

FIXTURE = "\n".join([
    HEADER,
    row(pxname=LISTENER, svname="FRONTEND", scur=3, stot=1520, bin=48211, bout=902133,
        ereq=2, status="OPEN", type=0, slim=50000, mode="http"),
    row(pxname=LISTENER, svname="sock-1", scur=3, stot=1520, status="OPEN", type=3),
    row(pxname=POOL, svname=M[0], scur=1, stot=700, bin=20000, bout=400000, status="UP",
        weight=1, type=2, check_status="L4OK"),
    row(pxname=POOL, svname=M[1], scur=1, stot=500, status="UP 1/3", weight=1, type=2),
    row(pxname=POOL, svname=M[2], status="DOWN", weight=1, type=2, check_status="L4CON"),
    row(pxname=POOL, svname=M[3], status="DOWN 1/2", weight=1, type=2),
    row(pxname=POOL, svname=M[4], status="MAINT", weight=1, type=2),
    row(pxname=POOL, svname=M[5], status="DRAIN", weight=0, type=2),
    row(pxname=POOL, svname=M[6], status="no check", weight=1, type=2),
    row(pxname=POOL, svname=M[7], status="UP", weight=0, type=2),
    row(pxname=POOL, svname="BACKEND", scur=2, stot=1200, bin=48211, bout=902133,
        status="UP", weight=6, type=1, algo="roundrobin"),
    row(pxname="_stats", svname="FRONTEND", status="OPEN", type=0),
    row(pxname="_stats", svname="BACKEND", status="UP", type=1),
    "",
])


@pytest.mark.parametrize(
    ("raw", "weight", "expected"),
    [
        ("UP", 1, ServerStatus.UP),
        ("UP 1/3", 1, ServerStatus.UP),
        ("DOWN", 1, ServerStatus.DOWN),
        ("DOWN 1/2", 1, ServerStatus.DOWN),
        ("MAINT", 1, ServerStatus.MAINT),
        ("MAINT (via pool/other)", 1, ServerStatus.MAINT),
        ("MAINT (resolution)", 1, ServerStatus.MAINT),
        ("DRAIN", 0, ServerStatus.DRAIN),
        ("DRAIN (agent)", 1, ServerStatus.DRAIN),
        ("NOLB", 1, ServerStatus.DRAIN),
        ("no check", 1, ServerStatus.NO_CHECK),
        ("no check", 0, ServerStatus.DRAIN),
        ("UP", 0, ServerStatus.DRAIN),
        ("DOWN", 0, ServerStatus.DOWN),
        ("something new", None, ServerStatus.DOWN),
    ],
)
def test_map_server_status(raw: str, weight: int | None, expected: ServerStatus) -> None:
    assert map_server_status(raw, weight) is expected


def test_parse_hand_written_fixture() -> None:
    assert NCOLS > 100
    stats = parse_stats(FIXTURE)
    assert set(stats.frontends) == {LISTENER, "_stats"}
    fe = stats.frontends[LISTENER]
    assert (fe.status, fe.scur, fe.stot, fe.bin, fe.bout, fe.ereq) == (
        "OPEN", 3, 1520, 48211, 902133, 2)
    be = stats.backends[POOL]
    assert (be.status, be.scur, be.stot) == ("UP", 2, 1200)
    assert [s.status for s in be.servers.values()] == [
        ServerStatus.UP, ServerStatus.UP, ServerStatus.DOWN, ServerStatus.DOWN,
        ServerStatus.MAINT, ServerStatus.DRAIN, ServerStatus.NO_CHECK, ServerStatus.DRAIN,
    ]
    first = be.servers[M[0]]
    assert (first.scur, first.stot, first.bin, first.bout, first.weight) == (
        1, 700, 20000, 400000, 1)
    assert be.servers[M[1]].raw_status == "UP 1/3"


def test_build_message_from_fixture() -> None:
    hb = build_message("amp-1", 42, FIXTURE)
    assert (hb.amphora_id, hb.seq) == ("amp-1", 42)
    assert set(hb.listeners) == {LISTENER}  # "_stats" is internal
    stats = hb.listeners[LISTENER].stats
    assert (stats.conns, stats.totconns, stats.rx, stats.tx, stats.ereq) == (
        3, 1520, 48211, 902133, 2)
    assert set(hb.pools) == {POOL}
    assert hb.pools[POOL].status == "UP"
    assert list(hb.pools[POOL].members.values()) == [
        "UP", "UP", "DOWN", "DOWN", "MAINT", "DRAIN", "no check", "DRAIN"]
    assert decode(encode(hb, "k"), "k") == hb


def test_octavia_style_backend_name_links_pool_to_listener() -> None:
    text = "\n".join([
        HEADER,
        row(pxname=LISTENER, svname="FRONTEND", status="OPEN", type=0),
        row(pxname=f"{POOL}:{LISTENER}", svname=M[0], status="UP", weight=1, type=2),
        row(pxname=f"{POOL}:{LISTENER}", svname="BACKEND", status="UP", type=1),
    ])
    hb = build_message("amp-1", 1, text)
    assert hb.listeners[LISTENER].pools == (POOL,)
    assert hb.pools[POOL].members == {M[0]: "UP"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pxname,svname\n",
        "# pxname,svname,status\nx,FRONTEND,OPEN\n",
        HEADER + "\n" + row(pxname="p", svname="FRONTEND", type=0, scur="many"),
    ],
)
def test_parse_rejects_non_stats(text: str) -> None:
    with pytest.raises(StatsParseError):
        parse_stats(text)


# --- a real HAProxy -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def up_server() -> Iterator[int]:
    """A listening TCP socket on 127.0.0.1 so that HAProxy's L4 check succeeds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield int(s.getsockname()[1])


@pytest.fixture()
def haproxy(tmp_path: Path, up_server: int) -> Iterator[tuple[Path, int]]:
    """HAProxy in the foreground: (stats socket, frontend port); always killed afterwards."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.skip("haproxy not installed")
    sock = tmp_path / "stats.sock"
    fe_port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"""\
global
    stats socket {sock} mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend {LISTENER}
    bind 127.0.0.1:{fe_port}
    default_backend {POOL}
backend {POOL}
    server {M[0]} 127.0.0.1:{up_server} check inter 200ms fall 1 rise 1
    server {M[1]} 127.0.0.1:{free_port()} check inter 200ms fall 1 rise 1
    server {M[2]} 127.0.0.1:{free_port()}
    server {M[3]} 127.0.0.1:{free_port()} disabled
    server {M[4]} 127.0.0.1:{up_server} weight 0
""")
    with (tmp_path / "haproxy.log").open("wb") as log:
        proc = subprocess.Popen([binary, "-f", str(cfg), "-db"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            try:
                read_stats(str(sock))
                break
            except OSError:
                assert time.monotonic() < deadline, "haproxy stats socket never came up"
                time.sleep(0.05)
        yield sock, fe_port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_real_haproxy_stats(haproxy: tuple[Path, int]) -> None:
    sock, fe_port = haproxy
    # One connection through the listener so the counters move.
    with socket.create_connection(("127.0.0.1", fe_port), timeout=5) as c:
        c.sendall(b"hello")
    expected = {M[0]: "UP", M[1]: "DOWN", M[2]: "no check", M[3]: "MAINT", M[4]: "DRAIN"}
    deadline = time.monotonic() + 10
    while True:
        text = read_stats(str(sock))
        hb = build_message("amp-real", 7, text)
        if hb.pools.get(POOL) and dict(hb.pools[POOL].members) == expected:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    assert text.startswith("# pxname,svname,")
    stats = parse_stats(text)
    assert stats.backends[POOL].servers[M[1]].raw_status.startswith("DOWN")
    assert stats.frontends[LISTENER].status == "OPEN"
    assert set(hb.listeners) == {LISTENER}
    assert hb.listeners[LISTENER].status == "OPEN"
    assert hb.listeners[LISTENER].stats.totconns >= 1
    assert hb.pools[POOL].status == "UP"
    assert decode(encode(hb, "k"), "k") == hb
