"""The region's syslog endpoint for its amphorae (Octavia's log offloading).

Amphorae send two streams over the management network (UDP, so a slow or absent
receiver never blocks HAProxy: datagrams are dropped, not queued):

- tenant flow logs, facility ``local0``: one line per request in Octavia's
  default format, which starts ``<project id> <load balancer id> …``;
- administrative logs, facility ``local1``: HAProxy's and the amphora agent's own.

Who may write where: a datagram's source address must be the management address of
a known amphora, and a flow line must name that amphora's own load balancer — so
one load balancer's amphora can never write into another's log. Anything else is
counted and dropped.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from tricircle_lb.db import Database
from tricircle_lb.loadbalancer import datagrams
from tricircle_lb.loadbalancer.logs.files import LogFiles
from tricircle_lb.loadbalancer.logs.syslog import LOCAL0, BadLine, parse
from tricircle_lb.loadbalancer.models import Amphora

LOG = logging.getLogger(__name__)
MAX_DATAGRAM: Final = 64 * 1024
_SENDER_TTL: Final = 5.0


@dataclass(frozen=True)
class Sender:
    amphora_id: str
    loadbalancer_id: str


SenderLookup = Callable[[str], Sender | None]


@dataclass
class Counters:
    written: int = 0
    malformed: int = 0
    unknown_sender: int = 0
    foreign: int = 0


class LogReceiver:
    def __init__(self, files: LogFiles, sender_of: SenderLookup) -> None:
        self.files = files
        self.sender_of = sender_of
        self.counters = Counters()
        self._warned: dict[str, float] = {}

    def receive(self, data: bytes, source: str) -> bool:
        """File one datagram from ``source``; False if it was dropped."""
        sender = self.sender_of(source)
        if sender is None:
            self.counters.unknown_sender += 1
            self._warn(source, f"dropping logs from {source}: not an amphora's address")
            return False
        try:
            line = parse(data[:MAX_DATAGRAM])
        except BadLine:
            self.counters.malformed += 1
            return False
        if line.facility == LOCAL0:
            fields = line.message.split(" ", 2)
            if len(fields) < 2 or fields[1] != sender.loadbalancer_id:
                self.counters.foreign += 1
                self._warn(source, f"dropping a flow log line from amphora "
                           f"{sender.amphora_id}: not of its load balancer")
                return False
            self.files.write(sender.loadbalancer_id, "flow", line.message)
        else:
            self.files.write(sender.loadbalancer_id, "amphora",
                             f"{sender.amphora_id} {line.message}")
        self.counters.written += 1
        return True

    def serve(self, sock: socket.socket, stop: threading.Event,
              still_valid: Callable[[], bool] | None = None) -> None:
        """Receive on ``sock`` as the health manager does (:func:`datagrams.serve`)."""
        datagrams.serve(sock, stop, still_valid, self._handle, MAX_DATAGRAM, "log receiver")

    def _handle(self, data: bytes, source: tuple[str, int]) -> None:
        try:
            self.receive(data, source[0])
        except OSError:
            LOG.exception("log receiver: writing a log line failed")

    def _warn(self, key: str, message: str) -> None:
        """At most one warning a minute per source: a flood must not flood our log."""
        now = time.monotonic()
        if now - self._warned.get(key, -60.0) >= 60.0:
            self._warned[key] = now
            LOG.warning(message)


def senders_from(db: Database) -> SenderLookup:
    """Amphorae by management address, read from the database (re-read every few
    seconds, so a new amphora's logs are filed within that time)."""
    cache: dict[str, Sender] = {}
    read_at = [-_SENDER_TTL]
    lock = threading.Lock()

    def lookup(address: str) -> Sender | None:
        with lock:
            if address not in cache and time.monotonic() - read_at[0] >= _SENDER_TTL:
                with db.read() as session:
                    rows = session.execute(select(
                        Amphora.lb_network_ip, Amphora.id, Amphora.loadbalancer_id).where(
                        Amphora.loadbalancer_id.is_not(None))).all()
                cache.clear()
                cache.update({ip: Sender(amp, lb) for ip, amp, lb in rows if ip and lb})
                read_at[0] = time.monotonic()
            return cache.get(address)

    return lookup
