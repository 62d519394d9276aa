"""The amphora's heartbeat loop: HAProxy's stats → signed UDP to every health manager."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping

from tricircle_lb.loadbalancer.health import (
    Heartbeat,
    HeartbeatSender,
    ListenerStatus,
    PoolStatus,
    StatsParseError,
    build_message,
    read_stats,
)

LOG = logging.getLogger(__name__)


class HeartbeatLoop:
    """Every ``interval`` seconds one heartbeat to each controller address.

    Without a running HAProxy (no stats socket yet) the heartbeat has no
    listeners: the health manager still learns that the amphora is alive.
    """

    def __init__(self, amphora_id: str, key: bytes, controllers: tuple[tuple[str, int], ...],
                 stats_socket: str, interval: float,
                 udp: Callable[[], tuple[Mapping[str, ListenerStatus],
                                         Mapping[str, PoolStatus]]] | None = None) -> None:
        self.amphora_id = amphora_id
        self.udp = udp  # the UDP listeners' part (nginx's, decision 087)
        self.stats_socket = stats_socket
        self.interval = interval
        self.seq = 0
        self._senders = [HeartbeatSender(host, port, key) for host, port in controllers]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)

    def message(self) -> Heartbeat:
        try:
            hb = build_message(self.amphora_id, self.seq, read_stats(self.stats_socket))
        except (OSError, StatsParseError) as exc:
            LOG.debug("no HAProxy statistics: %s", exc)
            hb = Heartbeat(amphora_id=self.amphora_id, seq=self.seq)
        if self.udp is None:
            return hb
        listeners, pools = self.udp()
        return dataclasses.replace(hb, listeners={**hb.listeners, **listeners},
                                   pools={**hb.pools, **pools})

    def send_once(self) -> None:
        message = self.message()
        self.seq += 1
        for sender in self._senders:
            try:
                sender.send(message)
            except OSError as exc:  # the management network may not be up yet
                LOG.warning("heartbeat not sent: %s", exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.send_once()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for sender in self._senders:
            sender.close()
