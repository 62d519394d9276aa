"""Validation and quoting shared by the HAProxy renderers (see :mod:`.haproxy_config`).

Every check raises :class:`ConfigRenderError` naming the field; none puts a
secret in its message (PEM text never reaches a renderer, only file names).
"""

from __future__ import annotations

import ipaddress
import re

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
TOKEN_RE = re.compile(r"[A-Za-z0-9!*+.^_|~-]{1,64}")


class ConfigRenderError(ValueError):
    """The desired state cannot be rendered safely; the message names the field."""


def ident(value: str, where: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise ConfigRenderError(f"{where}: not a valid id: {value!r}")
    return value


def printable(value: str, where: str, max_len: int = 255) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigRenderError(f"{where}: must be a non-empty string")
    if not value.isprintable():
        raise ConfigRenderError(
            f"{where}: contains a control character (newline, NUL, tab, ...)"
        )
    if len(value) > max_len:
        raise ConfigRenderError(f"{where}: longer than {max_len} characters")
    return value


def match(pattern: re.Pattern[str], value: str, where: str, what: str, max_len: int) -> str:
    printable(value, where, max_len)
    if not pattern.fullmatch(value):
        raise ConfigRenderError(f"{where}: not {what}: {value!r}")
    return value


def quote(value: str) -> str:
    """One HAProxy word holding ``value`` literally (single-quoted)."""
    return "'" + value.replace("'", "'\\''") + "'"


def integer(value: int, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigRenderError(f"{where}: must be an integer in {low}..{high}")
    return value


def address(value: str, port: int, where: str) -> str:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise ConfigRenderError(f"{where}: not an IP address: {value!r}") from None
    integer(port, f"{where} port", 1, 65535)
    return f"ipv6@[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
