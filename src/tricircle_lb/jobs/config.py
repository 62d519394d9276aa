"""``[jobs]``: how a service's worker polls, leases and retries its jobs."""

from __future__ import annotations

import configparser
from dataclasses import dataclass, fields

from tricircle_lb.common.config import ConfigError, get_float, get_int

SECTION = "jobs"


@dataclass(frozen=True)
class JobsConfig:
    """Worker settings; every duration is in seconds.

    ``poll_interval``: how often an idle worker looks for due jobs (``wake()``
    cuts the wait short). ``lease_time``: how long a claim holds a job before
    another worker may take it over; the worker renews it every third of it
    while the handler runs. ``max_attempts``: claims before a job ends FAIL.
    Retry ``n`` (1-based) waits ``min(backoff_max, backoff_base * 2**(n-1))``,
    scaled by a jitter factor in ``[0.5, 1]``.
    """

    poll_interval: float = 0.5
    lease_time: float = 30.0
    max_attempts: int = 30
    backoff_base: float = 0.5
    backoff_max: float = 10.0

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) <= 0:
                raise ConfigError(f"[{SECTION}] {field.name} must be positive")

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> JobsConfig:
        return cls(
            poll_interval=get_float(parser, SECTION, "poll_interval", cls.poll_interval),
            lease_time=get_float(parser, SECTION, "lease_time", cls.lease_time),
            max_attempts=get_int(parser, SECTION, "max_attempts", cls.max_attempts),
            backoff_base=get_float(parser, SECTION, "backoff_base", cls.backoff_base),
            backoff_max=get_float(parser, SECTION, "backoff_max", cls.backoff_max),
        )
