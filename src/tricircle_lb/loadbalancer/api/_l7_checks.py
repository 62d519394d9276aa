"""What an L7 rule or policy may say: Octavia's rules (``octavia/common/validate.py``
``l7rule_data`` and ``url``), in its words.

A rule error is ``Error parsing L7Rule: <why>`` (400). Header and cookie
names are HTTP tokens; header and path/host values visible ASCII (or one
double-quoted string); cookie values RFC 6265 octets; REGEX values must
compile (Python's ``re``, as Octavia checks them). None of these admit a
newline, so no value can end a line of the HAProxy configuration.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tricircle_lb.common.errors import BadRequest

SSL_RULE_TYPES = ("SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD")
MATCHING = ("STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO")
_HEADER_NAME = re.compile(r"\A[a-zA-Z0-9!#$%&'*+-.^_`|~]+\Z")
_COOKIE_VALUE = re.compile(r"\A[a-zA-Z0-9!#$%&'()*+-./:<=>?@[\]^_`{|}~]+\Z")
_HEADER_VALUE = re.compile(r"\A[a-zA-Z0-9!\"#$%&'()*+,-./:;<=>?@[\]^_`{|}~\\]+\Z")
_QUOTED_VALUE = re.compile(r"\A\"[a-zA-Z0-9 \t!\"#$%&'()*+,-./:;<=>?@[\]^_`{|}~\\]*\"\Z")
_DN_FIELD = re.compile(r"^([a-zA-Z][A-Za-z0-9-]*)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INVALID_URL_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _rule_error(why: str) -> BadRequest:
    return BadRequest(f"Error parsing L7Rule: {why}")


def _invalid(why: str) -> BadRequest:
    return _rule_error(f"Invalid L7 Rule: {why}")


def _regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise _rule_error(f"Unable to parse regular expression: {exc}") from None


def _string(pattern: re.Pattern[str], value: str, what: str,
            quoted: bool = False) -> None:
    if not pattern.match(value) and not (quoted and _QUOTED_VALUE.match(value)):
        raise _rule_error(f"Invalid characters in {what}")


def check_rule(rule_type: str, compare_type: str, key: str | None, value: str) -> None:
    """Octavia's ``l7rule_data``: raise 400 unless the rule is well formed."""
    if not value:
        raise _invalid("L7 rule type requires a value")
    if rule_type in ("HEADER", "COOKIE"):
        if not key:
            raise _invalid("L7 rule type requires a key")
        _string(_HEADER_NAME, key, "key")
        if compare_type == "REGEX":
            _regex(value)
        elif rule_type == "HEADER":
            _string(_HEADER_VALUE, value, "header value", quoted=True)
        else:
            _string(_COOKIE_VALUE, value, "cookie value")
    elif rule_type in ("HOST_NAME", "PATH"):
        if compare_type == "REGEX":
            _regex(value)
        else:
            _string(_HEADER_VALUE, value, "comparison value", quoted=True)
    elif rule_type == "FILE_TYPE":
        if compare_type == "REGEX":
            _regex(value)
        elif compare_type == "EQUAL_TO":
            _string(_HEADER_VALUE, value, "comparison value", quoted=True)
        else:
            raise _invalid("invalid comparison type for rule type")
    elif rule_type in SSL_RULE_TYPES:
        _check_ssl_rule(rule_type, compare_type, key, value)
    else:
        raise _invalid("invalid rule type")


def _check_ssl_rule(rule_type: str, compare_type: str, key: str | None, value: str) -> None:
    """Octavia's ``validate_l7rule_ssl_types``."""
    msg = None
    if rule_type == "SSL_CONN_HAS_CERT":
        if key:
            msg = f'L7rule type {rule_type} does not use the "key" field.'
        elif value.lower() != "true":
            msg = f"L7rule value {value} is not a boolean True string."
        elif compare_type != "EQUAL_TO":
            msg = f"L7rule type {rule_type} only supports the EQUAL_TO compare type."
    elif rule_type == "SSL_VERIFY_RESULT":
        if key:
            msg = f'L7rule type {rule_type} does not use the "key" field.'
        elif not value.isdigit() or int(value) < 0:
            msg = f"L7rule type {rule_type} needs a int value, which is >= 0"
        elif compare_type != "EQUAL_TO":
            msg = f"L7rule type {rule_type} only supports the EQUAL_TO compare type."
    else:
        if compare_type == "REGEX":
            _regex(value)
        if not key or not value:
            msg = f"L7rule type {rule_type} needs to specify a key and a value."
        elif not _DN_FIELD.match(key):
            msg = "Invalid L7rule distinguished name field."
        elif _CONTROL.search(value):
            # Beyond Octavia: a line break would end HAProxy's configuration line.
            raise _rule_error("Invalid characters in comparison value")
    if msg:
        raise _invalid(msg)


def valid_url(url: str) -> str:
    """Octavia's ``validate.url``: an absolute http(s) URL with a host, without
    whitespace or control characters (a pydantic check)."""
    parts = urlsplit(url) if not _INVALID_URL_CHARS.search(url) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Value must be a valid URL string")
    return url
