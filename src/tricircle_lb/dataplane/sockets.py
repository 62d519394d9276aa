"""Netlink sockets per namespace, retries, and device look-ups for :mod:`.netlink`.

One socket per namespace is kept open (opening one in another namespace
costs ~15 ms) and re-opened when the namespace was re-created (its inode
changed). Transient errors are retried with exponential backoff; errors a
caller tolerates ("exists", "gone") return ``None``; any other becomes
:class:`~.errors.NetlinkFailure`.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from tricircle_lb.dataplane.errors import LinkNotFound, NamespaceNotFound, NetlinkFailure
from tricircle_lb.dataplane.interface import Link
from tricircle_lb.dataplane.parse import link_from_message

LOG = logging.getLogger(__name__)
T = TypeVar("T")

NETNS_DIR = "/run/netns"
TRANSIENT = frozenset({errno.EBUSY, errno.EAGAIN, errno.ENOBUFS, errno.EINTR})
GONE = frozenset({errno.ENOENT, errno.ENODEV, errno.ESRCH, errno.EADDRNOTAVAIL, errno.ENXIO})
RETRIES = 4


class NetlinkSockets:
    def __init__(self, retries: int = RETRIES, backoff: float = 0.05) -> None:
        self.retries = retries
        self.backoff = backoff
        self._handles: dict[str, tuple[int, Any]] = {}
        # name -> ifindex per namespace from the last dump; dropped when a device is
        # added or deleted there (decoding a dump costs ~1 ms per device in pyroute2).
        self._indexes: dict[str, dict[str, int]] = {}

    # Plumbing ---------------------------------------------------------------
    def _ipr(self, ns: str) -> Any:
        inode = 0
        if ns:
            try:
                inode = os.stat(os.path.join(NETNS_DIR, ns)).st_ino
            except FileNotFoundError:
                self._drop(ns)
                raise NamespaceNotFound(ns) from None
        cached = self._handles.get(ns)
        if cached is not None and cached[0] == inode:
            return cached[1]
        self._drop(ns)  # the namespace was re-created: the old socket points at the old one
        try:
            handle = IPRoute(netns=ns, flags=0, groups=0) if ns else IPRoute(groups=0)
        except FileNotFoundError:
            raise NamespaceNotFound(ns) from None
        self._handles[ns] = (inode, handle)
        return handle

    def _drop(self, ns: str) -> None:
        self._indexes.pop(ns, None)
        cached = self._handles.pop(ns, None)
        if cached is not None:
            try:
                cached[1].close()
            except Exception:
                LOG.debug("closing netlink socket of %s failed", ns, exc_info=True)

    def _call(self, op: str, fn: Callable[[], T], tolerate: frozenset[int] = frozenset()
              ) -> T | None:
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except NetlinkError as exc:
                if exc.code in tolerate:
                    return None
                if exc.code in TRANSIENT and attempt < self.retries:
                    time.sleep(self.backoff * (2 ** attempt))
                    continue
                raise NetlinkFailure(op, exc.code, str(exc)) from exc
            except OSError as exc:
                if exc.errno in TRANSIENT and attempt < self.retries:
                    time.sleep(self.backoff * (2 ** attempt))
                    continue
                raise NetlinkFailure(op, exc.errno or 0, str(exc)) from exc
        raise AssertionError("unreachable")

    def _index(self, ns: str, name: str) -> int | None:
        ipr = self._ipr(ns)
        known = self._indexes.get(ns)
        if known is not None and name in known:
            return known[name]
        found = self._call(f"lookup {name}", lambda: ipr.link_lookup(ifname=name),
                           tolerate=GONE)
        return int(found[0]) if found else None

    def _need(self, ns: str, name: str) -> int:
        index = self._index(ns, name)
        if index is None:
            raise LinkNotFound(ns, name)
        return index

    def close(self) -> None:
        for ns in list(self._handles):
            self._drop(ns)

    def links(self, ns: str) -> list[Link]:
        ipr = self._ipr(ns)
        msgs = self._call("dump links", lambda: list(ipr.get_links())) or []
        names = {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in msgs}
        self._indexes[ns] = {name: index for index, name in names.items()}
        return [link_from_message(m, names) for m in msgs]

    def _link_named(self, ns: str, name: str) -> Link | None:
        """One device by name with a single RTM_GETLINK (no dump of the namespace)."""
        ipr = self._ipr(ns)
        msgs = self._call(f"get {name}", lambda: list(ipr.link("get", ifname=name)),
                          tolerate=GONE)
        if not msgs:
            return None
        msg = msgs[0]
        related = {msg.get_attr("IFLA_MASTER"), msg.get_attr("IFLA_LINK")}
        info = msg.get_attr("IFLA_LINKINFO")
        data = info.get_attr("IFLA_INFO_DATA") if info else None
        if data is not None and info.get_attr("IFLA_INFO_KIND") == "vxlan":
            related.add(data.get_attr("IFLA_VXLAN_LINK"))
        names = {}
        for index in related - {None, 0}:
            found = self._call("get link", lambda i=index: list(  # type: ignore[misc]
                ipr.link("get", index=i)), tolerate=GONE)
            if found:
                names[int(index)] = str(found[0].get_attr("IFLA_IFNAME"))
        return link_from_message(msg, names)

    def _names(self, ns: str) -> dict[int, str]:
        if ns not in self._indexes:
            self.links(ns)
        return {index: name for name, index in self._indexes.get(ns, {}).items()}

