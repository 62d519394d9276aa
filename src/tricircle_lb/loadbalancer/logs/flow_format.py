"""Octavia's default tenant flow-log format, for HAProxy's ``log-format``.

Each request logs one line::

    <project id> <load balancer id> <frontend> <client ip> <client port> <date>
    <listener id> <status> <bytes read> <bytes uploaded> <client cert verify>
    "<client cert DN>" <backend> <server> <total time> <termination state>

The ids are the amphora's own (put in by the controller), so the region's
receiver can file a line under its load balancer without trusting anything else.
"""

from __future__ import annotations

import re

_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
_FIELDS = ("%f %ci %cp %t {listener_id} %ST %B %U %[ssl_c_verify] %{{+Q}}[ssl_c_s_dn] "
           "%b %s %Tt %tsc")


def flow_log_format(project_id: str, loadbalancer_id: str, listener_id: str) -> str:
    """The ``log-format`` argument, double-quoted for haproxy.cfg."""
    for value in (project_id, loadbalancer_id, listener_id):
        if not _ID.match(value):  # never let a value reach the config unescaped
            raise ValueError(f"not an id: {value!r}")
    fields = _FIELDS.format(listener_id=listener_id)
    return f'"{project_id} {loadbalancer_id} {fields}"'
