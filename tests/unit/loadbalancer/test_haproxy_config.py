"""HAProxy configuration rendering, checked by the real ``haproxy -c``.

``haproxy -c`` parses the file without binding or running anything, so it
needs no root and any VIP works; socket and pid paths live in ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import http.client
import resource
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tricircle_lb.loadbalancer.amphora import (
    ConfigRenderError,
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
    SessionPersistence,
    global_maxconn,
    render,
)

HAPROXY = shutil.which("haproxy")
needs_haproxy = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")

LB = "0b0c1e7a-0000-4000-8000-000000000001"
L_HTTP = "11111111-1111-4111-8111-111111111111"
L_TCP = "22222222-2222-4222-8222-222222222222"
L_HTTPS = "33333333-3333-4333-8333-333333333333"
P_WEB = "aaaaaaaa-0000-4000-8000-00000000000a"
P_API = "bbbbbbbb-0000-4000-8000-00000000000b"
P_TCP = "cccccccc-0000-4000-8000-00000000000c"
P_TLS = "dddddddd-0000-4000-8000-00000000000d"
M1, M2, M3, M4 = (f"eeeeeeee-0000-4000-8000-00000000000{i}" for i in range(1, 5))
VIP = "10.0.10.100"
NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def members() -> tuple[Member, ...]:
    return (
        Member(M1, "10.0.10.11", 80),
        Member(M2, "10.0.10.12", 80, weight=0),
        Member(M3, "10.0.10.13", 80, weight=5, backup=True),
        Member(M4, "10.0.20.14", 8080, admin_state_up=False, monitor_address="10.0.20.15",
               monitor_port=9000),
    )


def rule(n: int, **kw: object) -> L7Rule:
    base: dict[str, object] = {
        "id": f"f0000000-0000-4000-8000-0000000000{n:02d}",
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/api",
    }
    base.update(kw)
    return L7Rule(**base)  # type: ignore[arg-type]


def full_config(**http_listener: object) -> LoadBalancerConfig:
    policies = (
        L7Policy("90000000-0000-4000-8000-000000000003", "REJECT", 3,
                 rules=(rule(5, type="HEADER", key="X-Bad", compare_type="EQUAL_TO",
                             value="1"),)),
        L7Policy("90000000-0000-4000-8000-000000000001", "REDIRECT_TO_POOL", 1,
                 rules=(rule(1), rule(2, type="HOST_NAME", compare_type="ENDS_WITH",
                                       value=".example.com", invert=True)),
                 redirect_pool_id=P_API),
        L7Policy("90000000-0000-4000-8000-000000000002", "REDIRECT_TO_URL", 2,
                 rules=(rule(3, type="COOKIE", key="session", compare_type="CONTAINS",
                             value="old"),
                        rule(4, type="FILE_TYPE", compare_type="EQUAL_TO", value="php")),
                 redirect_url="https://new.example.com/a%20b"),
        L7Policy("90000000-0000-4000-8000-000000000004", "REJECT", 4),  # no rules: skipped
    )
    http = Listener(
        L_HTTP, "HTTP", 80, default_pool_id=P_WEB, connection_limit=1000,
        insert_headers={"X-Forwarded-For": True, "X-Forwarded-Port": "true",
                        "X-Forwarded-Proto": "False"},
        allowed_cidrs=("10.0.0.0/8", "192.168.1.7/24"),
        timeout_tcp_inspect=100, l7policies=policies,
    )
    http = dataclasses.replace(http, **http_listener)  # type: ignore[arg-type]
    return LoadBalancerConfig(
        id=LB,
        vip_address=VIP,
        listeners=(
            http,
            Listener(L_TCP, "TCP", 5432, default_pool_id=P_TCP),
            Listener(L_HTTPS, "HTTPS", 443, default_pool_id=P_TLS),
        ),
        pools=(
            Pool(P_WEB, "HTTP", "ROUND_ROBIN", members(),
                 session_persistence=SessionPersistence("HTTP_COOKIE"),
                 health_monitor=HealthMonitor("HTTP", delay=5, timeout=3, max_retries=2,
                                              max_retries_down=4, http_method="HEAD",
                                              url_path="/healthz?full=1",
                                              expected_codes="200-204")),
            Pool(P_API, "HTTP", "LEAST_CONNECTIONS", members()[:1],
                 session_persistence=SessionPersistence("APP_COOKIE", "JSESSIONID"),
                 health_monitor=HealthMonitor("HTTP", 2, 1, 3, expected_codes="200,202")),
            Pool(P_TCP, "TCP", "SOURCE_IP", members()[:2],
                 session_persistence=SessionPersistence("SOURCE_IP"),
                 health_monitor=HealthMonitor("PING", 3, 2, 2)),
            Pool(P_TLS, "HTTPS", "ROUND_ROBIN", (Member(M1, "fd00::5", 443),),
                 health_monitor=HealthMonitor("HTTPS", 4, 2, 2, url_path="/")),
        ),
    )


def write_and_check(cfg: LoadBalancerConfig, tmp_path: Path) -> str:
    if HAPROXY is None:
        pytest.skip("haproxy is not installed")
    text = render(cfg, stats_socket=tmp_path / "stats.sock", pid_file=tmp_path / "haproxy.pid",
                  open_files_limit=NOFILE)
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    proc = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True,
                          timeout=10, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out + "\n" + text
    assert "WARNING" not in out and "ALERT" not in out, out + "\n" + text
    return text


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def section(text: str, header: str) -> list[str]:
    all_lines = text.splitlines()
    start = all_lines.index(header)
    body = []
    for line in all_lines[start + 1:]:
        if not line.startswith("    "):
            break
        body.append(line.strip())
    return body


def test_full_config_passes_haproxy_check(tmp_path: Path) -> None:
    text = write_and_check(full_config(), tmp_path)
    got = lines(text)
    maxconn = global_maxconn(NOFILE, listeners=3, servers=(4 + 1 + 2 + 1) * 3)
    assert "master-worker" in got
    assert f"maxconn {maxconn}" in got
    assert f"stats socket '{tmp_path}/stats.sock' mode 0600 level admin expose-fd listeners" in got
    assert f"pidfile '{tmp_path}/haproxy.pid'" in got


def test_frontends(tmp_path: Path) -> None:
    text = write_and_check(full_config(), tmp_path)
    fe = section(text, f"frontend {L_HTTP}")
    assert fe[:5] == ["mode http", f"bind {VIP}:80", "maxconn 1000", "timeout client 50000",
                      "tcp-request inspect-delay 100"]
    assert "tcp-request connection reject if !{ src 10.0.0.0/8 192.168.1.0/24 }" in fe
    assert "option forwardfor" in fe
    assert "http-request set-header X-Forwarded-Port %[dst_port]" in fe
    assert not any("X-Forwarded-Proto" in line for line in fe)
    assert fe[-1] == f"default_backend {P_WEB}:{L_HTTP}"
    tcp = section(text, f"frontend {L_TCP}")
    assert tcp[:2] == ["mode tcp", f"bind {VIP}:5432"]
    assert tcp[2] == f"maxconn {global_maxconn(NOFILE, listeners=3, servers=24)}"
    assert section(text, f"frontend {L_HTTPS}")[0] == "mode tcp"  # pass-through


def test_l7_policies_in_position_order(tmp_path: Path) -> None:
    fe = section(write_and_check(full_config(), tmp_path), f"frontend {L_HTTP}")
    r = [f"f0000000-0000-4000-8000-0000000000{n:02d}" for n in range(1, 6)]
    assert f"acl {r[0]} path -m beg -- '/api'" in fe
    assert f"acl {r[1]} req.hdr(host) -i -m end -- '.example.com'" in fe
    assert f"acl {r[2]} req.cook(session) -m sub -- 'old'" in fe
    assert f"acl {r[3]} path_end -- '.php'" in fe
    assert f"acl {r[4]} req.hdr(X-Bad) -m str -- '1'" in fe
    marks = [line for line in fe if line.startswith("http-request set-var(txn.tlb_l7)")]
    assert marks == [
        f"http-request set-var(txn.tlb_l7) int(1) if !{{ var(txn.tlb_l7) -m found }} "
        f"{r[0]} !{r[1]}",
        f"http-request set-var(txn.tlb_l7) int(2) if !{{ var(txn.tlb_l7) -m found }} "
        f"{r[2]} {r[3]}",
        f"http-request set-var(txn.tlb_l7) int(3) if !{{ var(txn.tlb_l7) -m found }} {r[4]}",
    ]
    assert "http-request redirect location 'https://new.example.com/a%%20b' code 302 " \
           "if { var(txn.tlb_l7) -m int 2 }" in fe
    assert "http-request deny if { var(txn.tlb_l7) -m int 3 }" in fe
    assert f"use_backend {P_API}:{L_HTTP} if {{ var(txn.tlb_l7) -m int 1 }}" in fe
    assert not any("int(4)" in line for line in fe)  # a policy without rules never matches
    assert fe.index(marks[2]) < fe.index(f"use_backend {P_API}:{L_HTTP} "
                                         "if { var(txn.tlb_l7) -m int 1 }")


def test_backends(tmp_path: Path) -> None:
    text = write_and_check(full_config(), tmp_path)
    web = section(text, f"backend {P_WEB}:{L_HTTP}")
    assert web[:5] == ["mode http", "balance roundrobin", "option allbackups",
                       "timeout connect 5000", "timeout server 50000"]
    assert "cookie SRV insert indirect nocache" in web
    assert "timeout check 3s" in web
    assert "option httpchk HEAD '/healthz?full=1'" in web
    assert "http-check expect rstatus ^(200|201|202|203|204)$" in web
    check = "check inter 5s fall 4 rise 2"
    assert web[-4:] == [
        f"server {M1} 10.0.10.11:80 weight 1 {check} cookie {M1}",
        f"server {M2} 10.0.10.12:80 weight 0 {check} cookie {M2}",
        f"server {M3} 10.0.10.13:80 weight 5 {check} cookie {M3} backup",
        f"server {M4} 10.0.20.14:8080 weight 1 {check} addr 10.0.20.15 port 9000 "
        f"cookie {M4} disabled",
    ]
    api = section(text, f"backend {P_API}:{L_HTTP}")
    assert "balance leastconn" in api
    assert api[5:8] == ["stick-table type string len 64 size 10k",
                        "stick store-response res.cook(JSESSIONID)",
                        "stick match req.cook(JSESSIONID)"]
    assert "option httpchk GET '/'" in api
    assert "http-check expect rstatus ^(200|202)$" in api
    tcp = section(text, f"backend {P_TCP}:{L_TCP}")
    assert tcp[:2] == ["mode tcp", "balance source"]
    assert "stick-table type ipv6 size 10k" in tcp and "stick on src" in tcp
    assert not any("httpchk" in line for line in tcp)  # PING => TCP connect check
    assert tcp[-1] == f"server {M2} 10.0.10.12:80 weight 0 check inter 3s fall 3 rise 2"
    tls = section(text, f"backend {P_TLS}:{L_HTTPS}")
    assert "http-check expect status 200" in tls
    assert tls[-1] == (f"server {M1} ipv6@[fd00::5]:443 weight 1 check check-ssl verify none "
                       "inter 4s fall 3 rise 2")


def test_minimal_and_empty(tmp_path: Path) -> None:
    write_and_check(LoadBalancerConfig(LB, VIP), tmp_path)
    text = write_and_check(LoadBalancerConfig(LB, VIP, (Listener(L_TCP, "TCP", 22),)), tmp_path)
    assert "default_backend" not in text


def test_global_maxconn_fits_open_files() -> None:
    assert global_maxconn(1024) == (1024 - 64 - 102) // 2
    assert global_maxconn(65536, listeners=2, servers=10) == (65536 - 76 - 6553) // 2
    with pytest.raises(ConfigRenderError, match="open_files_limit"):
        global_maxconn(50)


# -- injection -------------------------------------------------------------------

NASTY = ["a\nb", "a\rb", "a\x00b", "a\tb", "a\x1bb", "a\u2028b", "a\x85b"]


def one_token(line: str, value: str) -> None:
    """``value`` is one word of ``line`` as a shell-like (HAProxy) tokenizer reads it."""
    assert value in shlex.split(line, comments=True), line


@pytest.mark.parametrize("bad", NASTY)
@pytest.mark.parametrize("field", ["url_path", "redirect_url", "value", "key", "cookie_name"])
def test_control_characters_rejected_naming_the_field(field: str, bad: str) -> None:
    cfg = with_value(field, bad)
    with pytest.raises(ConfigRenderError, match=field):
        render(cfg, stats_socket=Path("/s"), pid_file=Path("/p"), open_files_limit=4096)


def with_value(field: str, value: str) -> LoadBalancerConfig:
    cfg = full_config()
    pools = list(cfg.pools)
    http = cfg.listeners[0]
    policies = list(http.l7policies)
    if field == "url_path":
        hm = pools[0].health_monitor
        assert hm is not None
        pools[0] = dataclasses.replace(pools[0],
                                       health_monitor=dataclasses.replace(hm, url_path=value))
    elif field == "cookie_name":
        pools[1] = dataclasses.replace(pools[1],
                                       session_persistence=SessionPersistence("APP_COOKIE", value))
    elif field == "redirect_url":
        policies[2] = dataclasses.replace(policies[2], redirect_url=value)
    elif field in ("value", "key"):
        r = dataclasses.replace(policies[0].rules[0], **{field: value})
        policies[0] = dataclasses.replace(policies[0], rules=(r,))
    http = dataclasses.replace(http, l7policies=tuple(policies))
    return dataclasses.replace(cfg, pools=tuple(pools), listeners=(http, *cfg.listeners[1:]))


QUOTED = ["a b", "x # y", "it's", 'say "hi"', "{ evil }", "back\\slash", "$HOME ${PATH}",
          "-f /etc/passwd", "%[src]", "' default_backend x '"]


@pytest.mark.parametrize("value", QUOTED)
@pytest.mark.parametrize("rule_type", ["PATH", "HEADER", "COOKIE", "HOST_NAME"])
def test_l7_values_stay_one_token(tmp_path: Path, value: str, rule_type: str) -> None:
    cfg = with_value("value", value)
    policy = cfg.listeners[0].l7policies[0]
    r = dataclasses.replace(policy.rules[0], type=rule_type, key="X-Key")
    http = dataclasses.replace(
        cfg.listeners[0],
        l7policies=(dataclasses.replace(policy, rules=(r,)), *cfg.listeners[0].l7policies[1:]),
    )
    cfg = dataclasses.replace(cfg, listeners=(http, *cfg.listeners[1:]))
    text = write_and_check(cfg, tmp_path)
    acl = next(line for line in lines(text) if line.startswith(f"acl {r.id} "))
    one_token(acl, value)
    assert acl.split(" -- ", 1)[0].count("'") == 0  # nothing of the value before "--"


@pytest.mark.parametrize("value", ["https://x.example/a?b='1'&c=$HOME", "http://h/%[src]",
                                   "https://h/p{q}#frag", 'http://h/"x"\\y'])
def test_redirect_url_stays_one_token(tmp_path: Path, value: str) -> None:
    text = write_and_check(with_value("redirect_url", value), tmp_path)
    line = next(x for x in lines(text) if x.startswith("http-request redirect location "))
    one_token(line, value.replace("%", "%%"))


@pytest.mark.parametrize("value", ["/a b", "/a#b", '/a"b', "/a\\b", "/{x}", "no-slash", "/a\nb"])
def test_bad_url_path_rejected(value: str) -> None:
    with pytest.raises(ConfigRenderError, match="url_path"):
        render(with_value("url_path", value), stats_socket=Path("/s"), pid_file=Path("/p"),
               open_files_limit=4096)


def test_url_path_with_quote_stays_one_token(tmp_path: Path) -> None:
    text = write_and_check(with_value("url_path", "/it's/$x?a=(1)"), tmp_path)
    line = next(x for x in lines(text) if x.startswith("option httpchk HEAD "))
    one_token(line, "/it's/$x?a=(1)")


@pytest.mark.parametrize("field", ["cookie_name", "key"])
@pytest.mark.parametrize("value", ["a b", "a)b", "a#b", "a'b", "a,b", "a{b", "a\\b", ""])
def test_tokens_rejected(field: str, value: str) -> None:
    with pytest.raises(ConfigRenderError, match=field):
        render(with_value(field, value), stats_socket=Path("/s"), pid_file=Path("/p"),
               open_files_limit=4096)


@pytest.mark.parametrize("value", ["ftp://x/", "https://a b/", "javascript:alert(1)", ""])
def test_bad_redirect_url_rejected(value: str) -> None:
    with pytest.raises(ConfigRenderError, match="redirect_url"):
        render(with_value("redirect_url", value), stats_socket=Path("/s"), pid_file=Path("/p"),
               open_files_limit=4096)


@pytest.mark.parametrize(
    ("cfg_change", "field"),
    [
        ({"id": "x\nfrontend evil"}, "listeners"),
        ({"id": "has space"}, "listeners"),
        ({"protocol_port": 0}, "protocol_port"),
        ({"connection_limit": -2}, "connection_limit"),
        ({"allowed_cidrs": ("10.0.0.0/8 }",)}, "allowed_cidrs"),
        ({"insert_headers": {"X-Evil\n": True}}, "insert_headers"),
    ],
)
def test_listener_fields_rejected(cfg_change: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigRenderError, match=field):
        render(full_config(**cfg_change), stats_socket=Path("/s"), pid_file=Path("/p"),
               open_files_limit=4096)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight": 257}, "weight"),
        ({"address": "10.0.0.1 backup"}, "address"),
        ({"id": "m;1"}, "id"),
        ({"monitor_address": "1.2.3.4\n"}, "monitor_address"),
        ({"monitor_port": 70000}, "monitor_port"),
        ({"id": M2}, "members: duplicate"),
    ],
)
def test_member_fields_rejected(change: dict[str, object], field: str) -> None:
    cfg = full_config()
    first = dataclasses.replace(cfg.pools[0].members[0], **change)
    pool = dataclasses.replace(cfg.pools[0], members=(first, *cfg.pools[0].members[1:]))
    with pytest.raises(ConfigRenderError, match=field):
        render(dataclasses.replace(cfg, pools=(pool, *cfg.pools[1:])), stats_socket=Path("/s"),
               pid_file=Path("/p"), open_files_limit=4096)


@pytest.mark.parametrize("codes", ["20", "200-", "204-200", "200;", "200 ,202", "099", "600"])
def test_bad_expected_codes_rejected(codes: str) -> None:
    cfg = full_config()
    hm = cfg.pools[0].health_monitor
    assert hm is not None
    pool = dataclasses.replace(cfg.pools[0],
                               health_monitor=dataclasses.replace(hm, expected_codes=codes))
    with pytest.raises(ConfigRenderError, match="expected_codes"):
        render(dataclasses.replace(cfg, pools=(pool, *cfg.pools[1:])), stats_socket=Path("/s"),
               pid_file=Path("/p"), open_files_limit=4096)


def test_bad_regex_and_http_only_features_rejected() -> None:
    with pytest.raises(ConfigRenderError, match=r"value: invalid regex"):
        cfg = with_value("value", "(unclosed")
        policy = cfg.listeners[0].l7policies[0]
        r = dataclasses.replace(policy.rules[0], compare_type="REGEX")
        http = dataclasses.replace(cfg.listeners[0],
                                   l7policies=(dataclasses.replace(policy, rules=(r,)),))
        render(dataclasses.replace(cfg, listeners=(http,)), stats_socket=Path("/s"),
               pid_file=Path("/p"), open_files_limit=4096)
    tcp_with_l7 = full_config(protocol="TCP", insert_headers={})
    with pytest.raises(ConfigRenderError, match="l7policies: only for HTTP"):
        render(tcp_with_l7, stats_socket=Path("/s"), pid_file=Path("/p"), open_files_limit=4096)
    with pytest.raises(ConfigRenderError, match="insert_headers: only for HTTP"):
        render(full_config(protocol="TCP"), stats_socket=Path("/s"), pid_file=Path("/p"),
               open_files_limit=4096)
    with pytest.raises(ConfigRenderError, match="HTTP_COOKIE needs an HTTP listener"):
        render(full_config(protocol="TCP", insert_headers={}, l7policies=()),
               stats_socket=Path("/s"), pid_file=Path("/p"), open_files_limit=4096)


def test_regex_value_passes_haproxy(tmp_path: Path) -> None:
    cfg = with_value("value", r"^/v[0-9]+/(a|b) x'$")
    policy = cfg.listeners[0].l7policies[0]
    r = dataclasses.replace(policy.rules[0], compare_type="REGEX")
    http = dataclasses.replace(cfg.listeners[0],
                               l7policies=(dataclasses.replace(policy, rules=(r,)),))
    text = write_and_check(dataclasses.replace(cfg, listeners=(http, *cfg.listeners[1:])),
                           tmp_path)
    acl = next(x for x in lines(text) if x.startswith(f"acl {r.id} "))
    one_token(acl, r"^/v[0-9]+/(a|b) x'$")


@needs_haproxy
def test_socket_path_with_spaces(tmp_path: Path) -> None:
    d = tmp_path / "state dir #1"
    d.mkdir()
    text = render(full_config(), stats_socket=d / "s.sock", pid_file=d / "p",
                  open_files_limit=NOFILE)
    (tmp_path / "h.cfg").write_text(text)
    assert subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "h.cfg")],
                          capture_output=True, timeout=10, check=False).returncode == 0
    with pytest.raises(ConfigRenderError, match="stats_socket"):
        render(full_config(), stats_socket=d / "a\nb", pid_file=d / "p", open_files_limit=NOFILE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_haproxy
def test_haproxy_reads_quoted_values_literally(tmp_path: Path) -> None:
    """A running HAProxy (no root: 127.0.0.1, a free port) matches and emits the exact values."""
    nasty = "x # y 'q' \"d\" {b} \\ $HOME %[src] -f /etc/passwd"
    url = "https://h.example/p?q='1'&r=$HOME&s=%[src]#frag"
    on_header = (rule(1, type="HEADER", key="X-Key", compare_type="EQUAL_TO", value=nasty),)
    on_cookie = (rule(2, type="COOKIE", key="c", compare_type="STARTS_WITH", value=nasty),)
    listener = Listener(
        L_HTTP, "HTTP", free_port(), default_pool_id=P_WEB,
        l7policies=(
            L7Policy("90000000-0000-4000-8000-000000000001", "REJECT", 1, rules=on_header),
            L7Policy("90000000-0000-4000-8000-000000000002", "REDIRECT_TO_URL", 2,
                     rules=on_cookie, redirect_url=url),
        ),
    )
    cfg = LoadBalancerConfig(LB, "127.0.0.1", (listener,), (Pool(P_WEB, "HTTP", "ROUND_ROBIN"),))
    path = tmp_path / "live.cfg"
    path.write_text(render(cfg, stats_socket=tmp_path / "s.sock", pid_file=tmp_path / "p",
                           open_files_limit=NOFILE))
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        def get(headers: dict[str, str]) -> http.client.HTTPResponse:
            deadline = time.monotonic() + 5
            while True:
                conn = http.client.HTTPConnection("127.0.0.1", listener.protocol_port, timeout=5)
                try:
                    conn.request("GET", "/", headers=headers)
                    return conn.getresponse()
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.05)
                finally:
                    conn.close()

        assert get({"X-Key": nasty}).status == 403
        assert get({"X-Key": nasty + "z"}).status == 503  # the empty default pool
        assert get({"X-Key": "x"}).status == 503
        assert get({"Cookie": "c=x#y"}).status == 503  # only the start of the value: no match
        redirect = get({"Cookie": "c=" + nasty + "tail"})
        assert (redirect.status, redirect.getheader("Location")) == (302, url)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    alerts = [x for x in err.decode().splitlines() if "ALERT" in x and "exited with code" not in x]
    assert "Loading success" in err.decode() and not alerts, err
