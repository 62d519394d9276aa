"""``[amphora_logs]``: where a region receives and keeps its amphorae's logs
(docs/configuration.md)."""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

from tricircle_lb.common.config import get_int

SECTION = "amphora_logs"


@dataclass(frozen=True)
class LogOffloadConfig:
    enabled: bool = True
    # Octavia's receivers listen on 10514 (its devstack rsyslog configuration).
    port: int = 10514
    # Empty: "amphorae" beside the service's own log file.
    directory: Path | None = None
    max_bytes: int = 50 * 2**20
    backup_count: int = 5

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser,
                    log_file: Path | None) -> LogOffloadConfig:
        s = SECTION
        directory = parser.get(s, "directory", fallback="").strip()
        default = log_file.parent / "amphorae" if log_file is not None else None
        return cls(
            enabled=parser.getboolean(s, "enabled", fallback=cls.enabled),
            port=get_int(parser, s, "port", cls.port),
            directory=Path(directory) if directory else default,
            max_bytes=get_int(parser, s, "max_bytes", cls.max_bytes),
            backup_count=get_int(parser, s, "backup_count", cls.backup_count),
        )
