"""The part of a syslog datagram the receiver needs: facility, severity, message.

Amphorae send RFC 3164 lines (HAProxy's default on a UDP target, and Python's
``SysLogHandler``)::

    <134>Dec  7 19:02:11 haproxy[812]: 7a1c… 5e0f… listener-1 10.0.0.9 …

or RFC 5424 ones (``<134>1 2026-12-07T19:02:11Z host app pid msgid - message``).
Only the priority is trusted to be where the RFCs put it; the header before the
message is skipped by shape, so a sender's choice of timestamp or hostname does
not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

LOCAL0: Final = 16  # Octavia's user_log_facility 0: tenant flow logs
LOCAL1: Final = 17  # Octavia's administrative_log_facility 1: the amphora's own logs

_PRI = re.compile(rb"<(\d{1,3})>")
# RFC 3164: "Mmm dd hh:mm:ss " then an optional hostname, then "tag[pid]: " or "tag: ".
_RFC3164 = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "
                      r"(?:\S+ )?(?:[^\s:\[]+(?:\[\d+\])?: )?")
# RFC 5424: "1 TIMESTAMP HOST APP PROCID MSGID " then structured data ("-" or [..]).
_RFC5424 = re.compile(r"^1 \S+ \S+ \S+ \S+ \S+ (?:-|(?:\[[^\]]*\])+) ?")


class BadLine(ValueError):
    """Not a syslog datagram (no priority)."""


@dataclass(frozen=True)
class SyslogLine:
    facility: int
    severity: int
    message: str


def parse(data: bytes) -> SyslogLine:
    """The facility, severity and message of one datagram; :class:`BadLine` if it has no
    ``<PRI>`` (bytes that are not UTF-8 are replaced, never refused)."""
    match = _PRI.match(data)
    if match is None or int(match.group(1)) > 191:
        raise BadLine("no syslog priority")
    pri = int(match.group(1))
    text = data[match.end():].decode("utf-8", errors="replace").rstrip("\r\n\x00")
    header = _RFC5424.match(text) or _RFC3164.match(text)
    message = text[header.end():] if header else text
    return SyslogLine(facility=pri >> 3, severity=pri & 7, message=message)
