"""Offloaded logs on disk: one directory per load balancer, rotated by size.

    <directory>/<load balancer id>/flow.log      tenant flow logs, a line per request
    <directory>/<load balancer id>/amphora.log   administrative logs of its amphorae

Rotation is the standard library's (``RotatingFileHandler``): ``flow.log.1`` …
``flow.log.N``. Handles are kept open for the most recently written files only, so
a region with many load balancers never runs out of descriptors.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final, Literal

Kind = Literal["flow", "amphora"]
MAX_OPEN: Final = 64
_FORMAT = logging.Formatter("%(message)s")


class LogFiles:
    def __init__(self, directory: Path, max_bytes: int = 50 * 2**20,
                 backup_count: int = 5) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self._open: OrderedDict[tuple[str, Kind], RotatingFileHandler] = OrderedDict()
        self._lock = threading.Lock()

    def path(self, loadbalancer_id: str, kind: Kind) -> Path:
        return self.directory / loadbalancer_id / f"{kind}.log"

    def write(self, loadbalancer_id: str, kind: Kind, line: str) -> None:
        record = logging.makeLogRecord({"msg": line.replace("\n", " "), "args": None})
        with self._lock:
            self._handler(loadbalancer_id, kind).emit(record)

    def _handler(self, loadbalancer_id: str, kind: Kind) -> RotatingFileHandler:
        key = (loadbalancer_id, kind)
        handler = self._open.get(key)
        if handler is not None:
            self._open.move_to_end(key)
            return handler
        path = self.path(loadbalancer_id, kind)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        if not path.exists():  # tenants' request logs: not for every local user
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o640))
        handler = RotatingFileHandler(path, maxBytes=self.max_bytes,
                                      backupCount=self.backup_count, encoding="utf-8")
        handler.setFormatter(_FORMAT)
        self._open[key] = handler
        while len(self._open) > MAX_OPEN:
            _, oldest = self._open.popitem(last=False)
            oldest.close()
        return handler

    def close(self) -> None:
        with self._lock:
            for handler in self._open.values():
                handler.close()
            self._open.clear()
