"""The data plane: namespaces, bridges, VXLAN, veths and L2 population over netlink.

:class:`Dataplane` is the interface (its docstring is the contract),
:class:`NetlinkDataplane` the real one (pyroute2, needs root),
:class:`FakeDataplane` the in-memory one for tests. :class:`Underlay`
builds the embedded hosts; :func:`teardown_all` removes everything named
with the project prefix.
"""

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
