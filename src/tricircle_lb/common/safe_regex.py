"""Regular expressions from callers, matched in linear time.

Nova matches a server list's ``name`` and ``ip`` filters as regular
expressions. With Python's backtracking ``re`` a caller chooses how long the
service computes (``(a+)+$`` against a long name); RE2 (Google's, through its
official binding) has no backtracking, so a match costs time linear in the
input whatever the pattern. Constructs that need backtracking
(back-references, look-arounds) are refused as invalid patterns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2  # type: ignore[import-untyped]

MAX_PATTERN = 1024  # characters; RE2 also caps the compiled program's size

_OPTIONS: Any = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is the caller's error, not a log line


class InvalidPattern(ValueError):
    """The pattern is too long or not a regular expression RE2 accepts."""


def compile_search(pattern: str) -> Callable[[str], bool]:
    """``text -> whether pattern occurs in it`` (``re.search`` semantics)."""
    if len(pattern) > MAX_PATTERN:
        raise InvalidPattern(f"pattern longer than {MAX_PATTERN} characters")
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise InvalidPattern(str(exc)) from exc

    def search(text: str) -> bool:
        return compiled.search(text) is not None
    return search
