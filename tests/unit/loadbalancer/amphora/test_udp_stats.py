"""The UDP statistics table: the nft script the agent loads and the listing it reads back.

The listing below is what ``nft -j list table inet tcl_udp_stats`` printed (nftables
1.0.6) after three datagrams of two clients to 10.0.1.10:53 and one answer.
"""

from __future__ import annotations

import json

import pytest

from tricircle_lb.loadbalancer.amphora.agent.udp_stats import (
    CountedListener,
    UdpStatsError,
    parse_listing,
    ruleset,
)
from tricircle_lb.loadbalancer.health.heartbeat import ListenerStats

LISTENER = CountedListener("abc-123", 53, 50000)

LISTING = json.dumps({"nftables": [
    {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "tcl_udp_stats", "handle": 1}},
    {"counter": {"family": "inet", "name": "in_abc_123", "table": "tcl_udp_stats",
                 "handle": 1, "packets": 3, "bytes": 96}},
    {"counter": {"family": "inet", "name": "out_abc_123", "table": "tcl_udp_stats",
                 "handle": 2, "packets": 1, "bytes": 34}},
    {"counter": {"family": "inet", "name": "new_abc_123", "table": "tcl_udp_stats",
                 "handle": 3, "packets": 2, "bytes": 63}},
    {"set": {"family": "inet", "name": "flows_abc_123_50000", "table": "tcl_udp_stats",
             "type": ["ipv4_addr", "inet_service"], "handle": 4, "size": 65536,
             "flags": ["timeout"], "timeout": 50, "elem": [
                 {"elem": {"val": {"concat": ["10.0.1.20", 55666]}, "expires": 49}},
                 {"elem": {"val": {"concat": ["10.0.1.20", 41344]}, "expires": 49}}]}},
    {"chain": {"family": "inet", "table": "tcl_udp_stats", "name": "input", "handle": 5,
               "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
]})


def test_listing_gives_bytes_sessions_begun_and_live_sessions() -> None:
    stats = parse_listing(LISTING).stats([LISTENER])
    assert stats == {"abc-123": ListenerStats(conns=2, totconns=2, rx=96, tx=34, ereq=0)}


def test_a_listener_the_table_does_not_count_yet_reads_zero() -> None:
    other = CountedListener("l2", 54, 1000)
    assert parse_listing(LISTING).stats([other]) == {"l2": ListenerStats()}


def test_a_set_without_elements_is_no_live_session() -> None:
    listing = json.dumps({"nftables": [{"set": {
        "family": "inet", "name": "flows_abc_123_50000", "table": "tcl_udp_stats",
        "type": ["ipv4_addr", "inet_service"], "flags": ["timeout"]}}]})
    assert parse_listing(listing).flows == {"flows_abc_123_50000": 0}


@pytest.mark.parametrize("text", ["", "nope", '{"other": []}',
                                  '{"nftables": [{"counter": {"table": "tcl_udp_stats"}}]}'])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(UdpStatsError):
        parse_listing(text)


def test_ruleset_counts_each_direction_and_only_counts() -> None:
    script = ruleset("10.0.1.10", [LISTENER])
    assert "add counter inet tcl_udp_stats in_abc_123" in script.splitlines()
    assert ("add rule inet tcl_udp_stats input ip daddr 10.0.1.10 udp dport 53 "
            "counter name in_abc_123") in script
    assert ("ip saddr . udp sport != @flows_abc_123_50000 counter name new_abc_123"
            in script)
    assert "update @flows_abc_123_50000 { ip saddr . udp sport }" in script
    assert ("add rule inet tcl_udp_stats output ip saddr 10.0.1.10 udp sport 53 "
            "counter name out_abc_123") in script
    assert "timeout 50000ms" in script and "type ipv4_addr . inet_service" in script
    # Nothing that could stop or change a datagram, nothing that re-creates a counter.
    for word in ("drop", "reject", "nat", "ct ", "policy drop", "create", "flush table"):
        assert word not in script
    assert "delete" not in script


def test_ruleset_deletes_only_what_no_listener_uses_any_more() -> None:
    present = ({"in_abc_123", "out_abc_123", "new_abc_123", "in_gone", "out_gone", "new_gone"},
               {"flows_abc_123_50000", "flows_gone_1000", "flows_abc_123_1000"})
    script = ruleset("10.0.1.10", [LISTENER], present).splitlines()
    deleted = [line for line in script if line.startswith("delete")]
    assert deleted == ["delete counter inet tcl_udp_stats in_gone",
                       "delete counter inet tcl_udp_stats new_gone",
                       "delete counter inet tcl_udp_stats out_gone",
                       "delete set inet tcl_udp_stats flows_abc_123_1000",
                       "delete set inet tcl_udp_stats flows_gone_1000"]
    # Deleted after the chains that referred to them were flushed.
    assert script.index("flush chain inet tcl_udp_stats input") < script.index(deleted[0])


def test_ruleset_for_an_ipv6_vip() -> None:
    script = ruleset("fd00::10", [LISTENER])
    assert "ip6 daddr fd00::10 udp dport 53" in script
    assert "type ipv6_addr . inet_service" in script and "ip6 saddr . udp sport" in script
