"""HMAC-SHA256 signatures of the amphora agent API (docs/decisions/070).

A request carries ``X-Amphora-Timestamp`` (Unix time, seconds) and
``X-Amphora-Signature``: the hex HMAC-SHA256, with the amphora's own key
(its ``heartbeat_key``; one per amphora, decision 076), of::

    "request\\n<METHOD>\\n<path>\\n<timestamp>\\n" + body

The response carries its own timestamp and the signature of::

    "response <status>\\n<METHOD>\\n<path>\\n<timestamp>\\n<request signature>\\n" + body

so a response is bound to the request it answers and cannot be replayed for
another one. Timestamps further than :data:`WINDOW` seconds from the
verifier's clock are refused; inside the window the agent refuses a request
signature it has already seen (:class:`ReplayCache`).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from typing import Final

TIMESTAMP_HEADER: Final = "X-Amphora-Timestamp"
SIGNATURE_HEADER: Final = "X-Amphora-Signature"
WINDOW: Final = 60.0


class SignatureError(Exception):
    """A missing, stale, replayed or wrong signature; the message says which."""


def _mac(key: bytes, head: str, body: bytes) -> str:
    return hmac.new(key, head.encode("utf-8") + body, hashlib.sha256).hexdigest()


def sign_request(key: bytes, method: str, path: str, timestamp: str, body: bytes) -> str:
    return _mac(key, f"request\n{method}\n{path}\n{timestamp}\n", body)


def sign_response(key: bytes, status: int, method: str, path: str, timestamp: str,
                  request_signature: str, body: bytes) -> str:
    return _mac(key, f"response {status}\n{method}\n{path}\n{timestamp}\n"
                     f"{request_signature}\n", body)


def now() -> str:
    return f"{time.time():.3f}"


def check_fresh(timestamp: str | None, clock: float | None = None) -> None:
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER}")
    try:
        stamp = float(timestamp)
    except ValueError:
        raise SignatureError(f"bad {TIMESTAMP_HEADER}") from None
    if abs((time.time() if clock is None else clock) - stamp) > WINDOW:
        raise SignatureError("stale timestamp (clocks more than 60 s apart?)")


def check(expected: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected, given):
        raise SignatureError("bad signature")


class ReplayCache:
    """Request signatures seen within the window; a second use is a replay."""

    def __init__(self, window: float = WINDOW) -> None:
        self._window = window
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check_and_add(self, signature: str) -> None:
        clock = time.monotonic()
        with self._lock:
            # Entries expire after twice the window: a timestamp may be up to
            # one window in the future and still pass check_fresh.
            self._seen = {s: t for s, t in self._seen.items()
                          if clock - t <= 2 * self._window}
            if signature in self._seen:
                raise SignatureError("replayed request")
            self._seen[signature] = clock
