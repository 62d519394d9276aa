"""Sockets that live in another network namespace, opened from any thread.

A socket belongs to the network namespace its creating thread was in, and
keeps it for life. Python 3.11 has no ``os.setns``, so :func:`socket_in`
enters the namespace with pyroute2's ``setns`` in a short-lived thread
(``setns`` moves only the calling thread), creates the socket there and hands
it back; the caller's threads never change namespace.
"""

from __future__ import annotations

import os
import socket
import threading

from pyroute2 import netns

from tricircle_lb.dataplane.errors import NamespaceNotFound

NETNS_DIR = "/run/netns"


def namespace_identity(namespace: str) -> tuple[int, int] | None:
    """(device, inode) of a named network namespace, None if it does not exist: a
    namespace deleted and made anew under the same name has another identity."""
    if not namespace or "/" in namespace:
        return None
    try:
        st = os.stat(os.path.join(NETNS_DIR, namespace))
    except OSError:
        return None
    return st.st_dev, st.st_ino


def socket_in(namespace: str, family: int = socket.AF_INET,
              type: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
    """A new socket in ``namespace`` (``""``: the caller's own namespace).

    Raises :class:`NamespaceNotFound` if the namespace does not exist and
    :class:`OSError` if the socket cannot be created.
    """
    if not namespace:
        return socket.socket(family, type, proto)
    if "/" in namespace or not os.path.exists(os.path.join(NETNS_DIR, namespace)):
        raise NamespaceNotFound(namespace)
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter_and_create() -> None:
        try:
            # flags=0 (O_RDONLY): never create the namespace, only enter it.
            netns.setns(namespace, flags=0)
            made.append(socket.socket(family, type, proto))
        except BaseException as exc:  # re-raised in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=enter_and_create, name=f"netns-socket-{namespace}")
    thread.start()
    thread.join()
    if failed:
        if isinstance(failed[0], FileNotFoundError):
            raise NamespaceNotFound(namespace) from failed[0]
        raise failed[0]
    return made[0]


__all__ = ["namespace_identity", "socket_in"]
