"""What an L7 rule or policy may say, checked before anything reaches HAProxy.

Octavia's rules (``octavia/common/validate.py``), written for this renderer:
every value is single-quoted in the configuration, so the danger is a control
character (a newline ends the line and starts a new directive), and a value
HAProxy would read differently than the user meant. REGEX values must compile
with Python's ``re``: an approximation of HAProxy's PCRE, close enough to
refuse what is plainly broken (unbalanced groups, bad escapes).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tricircle_lb.loadbalancer.errors import invalid_option as invalid

SSL_RULE_TYPES = ("SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD")
# A header or cookie name: an HTTP token (RFC 9110) less #$%&'` (which HAProxy's
# sample syntax would read), as the renderer accepts it.
_TOKEN_RE = re.compile(r"[A-Za-z0-9!*+.^_|~-]{1,64}")
# Visible ASCII but '"' and ',' (Octavia's header value), or one quoted string.
_HEADER_VALUE_RE = re.compile(r'[\x21\x23-\x2b\x2d-\x7e]+|"[\x20-\x21\x23-\x7e]*"')
# A cookie value (RFC 6265 cookie-octet).
_COOKIE_VALUE_RE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_rule(rule_type: str, compare_type: str, key: str | None, value: str) -> None:
    """Raise 400 unless the rule can be rendered and means what it says."""
    if rule_type in SSL_RULE_TYPES:
        raise invalid(f"L7 rule type {rule_type} is not supported by provider amphora "
                      "(listeners here do not terminate TLS).")
    if not value:
        raise invalid("L7 rule type requires a value.")
    if _CONTROL_RE.search(value):
        raise invalid("L7 rule value may not contain control characters.")
    if rule_type in ("HEADER", "COOKIE"):
        if not key:
            raise invalid(f"L7 rule type {rule_type} requires a key.")
        if not _TOKEN_RE.fullmatch(key):
            raise invalid(f"L7 rule key {key!r} is not a valid {rule_type.lower()} name.")
    elif key is not None:
        raise invalid(f"L7 rule type {rule_type} does not take a key.")
    if rule_type == "FILE_TYPE" and compare_type not in ("EQUAL_TO", "REGEX"):
        raise invalid("L7 rule type FILE_TYPE only supports compare types EQUAL_TO and REGEX.")
    if compare_type == "REGEX":
        try:
            re.compile(value)
        except re.error as exc:
            raise invalid(f"Unable to parse regular expression: {exc}.") from None
    elif rule_type == "COOKIE":
        if not _COOKIE_VALUE_RE.fullmatch(value):
            raise invalid("L7 rule cookie value contains characters a cookie may not hold.")
    elif not _HEADER_VALUE_RE.fullmatch(value):
        raise invalid("L7 rule value may only hold visible characters without '\"' or ','"
                      " (or be one double-quoted string).")


def check_redirect_url(url: str) -> None:
    """An absolute http(s) URL with a host, no whitespace or control characters."""
    if re.search(r"[\x00-\x20\x7f-\x9f]", url):
        raise invalid(f"redirect_url {url!r} may not contain whitespace or control characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"redirect_url {url!r} is not an absolute http or https URL.")

