"""The data plane: namespaces, bridges, VXLAN, veths and L2 population over netlink.

:class:`Dataplane` is the interface (its docstring is the contract),
:class:`NetlinkDataplane` the real one (pyroute2, needs root),
:class:`FakeDataplane` the in-memory one for tests. :class:`Underlay`
builds the embedded hosts; :func:`teardown_all` removes everything named
with the project prefix.
"""

import pyroute2.config

from tricircle_lb.dataplane.errors import (
    DataplaneError,
    InvalidName,
    LinkNotFound,
    NamespaceNotFound,
    NetlinkFailure,
    Unsupported,
)
from tricircle_lb.dataplane.fake import FakeDataplane
from tricircle_lb.dataplane.interface import (
    ZERO_MAC,
    Dataplane,
    FdbEntry,
    Link,
    Neighbour,
    Route,
)
from tricircle_lb.dataplane.names import PREFIX, host_namespace
from tricircle_lb.dataplane.netlink import NetlinkDataplane
from tricircle_lb.dataplane.teardown import kill_processes, teardown_all
from tricircle_lb.dataplane.underlay import Underlay, UnderlayHost, UnderlaySpec

# pyroute2 forks a child to act in another namespace (IPRoute(netns=…), netns.create)
# and SIGTERMs it once it has answered. Without this the child, a copy of the caller,
# runs the caller's SIGTERM handler there: a handler that raises lets the copy carry on
# as the caller inside that namespace (it made a test run continue in a fresh namespace
# where 127.0.0.1 is unreachable); one that logs can deadlock on a copied lock.
pyroute2.config.disable_mp_signal = True

__all__ = [
    "PREFIX",
    "ZERO_MAC",
    "Dataplane",
    "DataplaneError",
    "FakeDataplane",
    "FdbEntry",
    "InvalidName",
    "Link",
    "LinkNotFound",
    "NamespaceNotFound",
    "Neighbour",
    "NetlinkDataplane",
    "NetlinkFailure",
    "Route",
    "Underlay",
    "UnderlayHost",
    "UnderlaySpec",
    "Unsupported",
    "host_namespace",
    "kill_processes",
    "teardown_all",
]
