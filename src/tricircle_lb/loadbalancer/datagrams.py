"""The receive loop of the region's UDP endpoints on the management network (the
health manager's heartbeats, the amphorae's offloaded logs)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from socket import socket
from typing import Final

LOG = logging.getLogger(__name__)
POLL: Final = 0.5


def serve(sock: socket, stop: threading.Event, still_valid: Callable[[], bool] | None,
          handle: Callable[[bytes, tuple[str, int]], object], max_size: int,
          what: str) -> None:
    """Hand each datagram on ``sock`` (at most ``max_size`` bytes) to ``handle`` until
    ``stop`` is set, or until ``still_valid()`` (asked about once per poll interval)
    says the socket is no longer where datagrams arrive (a socket without a timeout
    gets one, so both are noticed)."""
    if sock.gettimeout() is None:
        sock.settimeout(POLL)
    checked = time.monotonic()
    while not stop.is_set():
        if still_valid is not None and time.monotonic() - checked >= POLL:
            checked = time.monotonic()
            if not still_valid():
                return
        try:
            data, source = sock.recvfrom(max_size)
        except TimeoutError:
            continue
        except OSError:
            if stop.is_set():
                return
            LOG.exception("%s: socket error", what)
            stop.wait(POLL)
            continue
        handle(data, (str(source[0]), int(source[1])))
