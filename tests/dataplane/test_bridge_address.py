"""A bridge the data plane makes keeps its MAC while ports come and go (decision 090).

Without an address of its own a Linux bridge takes its lowest port's MAC and
changes it, with no gratuitous ARP, when that port leaves. Hosts that learned
the old MAC for an address on (or answered by) the bridge then send into the
void until their neighbour entry expires: 15 to 45 s.
"""

from __future__ import annotations

import json

import pytest
from dataplane_testing import SESSION_PREFIX, sh

from tricircle_lb.dataplane import NetlinkDataplane, teardown_all

pytestmark = pytest.mark.root

LOW_MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")  # below any random bridge MAC


def _mac(ns: str, dev: str) -> str:
    return str(json.loads(sh("ip", "-n", ns, "-j", "link", "show", dev))[0]["address"])


def test_bridge_mac_stays_when_its_lowest_port_leaves() -> None:
    prefix = f"{SESSION_PREFIX}brmac-"
    ns = prefix + "sw"
    dp = NetlinkDataplane()
    try:
        dp.ensure_namespace(ns)
        dp.ensure_bridge(ns, "br0")
        own = _mac(ns, "br0")
        first = int(own.split(":")[0], 16)
        assert first & 0x02 and not first & 0x01, own  # locally administered unicast
        for n, mac in enumerate(LOW_MACS):
            sh("ip", "-n", ns, "link", "add", f"p{n}", "address", mac, "type", "veth",
               "peer", "name", f"q{n}")
            sh("ip", "-n", ns, "link", "set", f"p{n}", "master", "br0", "up")
        assert _mac(ns, "br0") == own
        sh("ip", "-n", ns, "link", "del", "p0")
        assert _mac(ns, "br0") == own
        dp.ensure_bridge(ns, "br0")  # an existing bridge is left as it is
        assert _mac(ns, "br0") == own
    finally:
        dp.close()
        teardown_all(prefix)
