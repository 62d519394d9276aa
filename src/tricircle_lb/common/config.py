"""Service configuration files: INI with oslo.config-style sections.

Every service reads one file (``serve central --config-file central.ini``).
Options that every service shares live in ``[DEFAULT]`` and
``[keystone_authtoken]``; each service parses its own section into its own
typed object. docs/configuration.md documents every option.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """A configuration file is missing, unreadable or has a bad value."""


def read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        raise ConfigError(f"cannot read configuration file {path}")
    return parser


def get_list(parser: configparser.ConfigParser, section: str, option: str,
             fallback: str = "") -> list[str]:
    raw = parser.get(section, option, fallback=fallback)
    return [item.strip() for item in raw.split(",") if item.strip()]


def get_int(parser: configparser.ConfigParser, section: str, option: str, fallback: int) -> int:
    try:
        return parser.getint(section, option, fallback=fallback)
    except ValueError as exc:
        raise ConfigError(f"[{section}] {option}: {exc}") from exc


def get_float(parser: configparser.ConfigParser, section: str, option: str,
              fallback: float) -> float:
    try:
        return parser.getfloat(section, option, fallback=fallback)
    except ValueError as exc:
        raise ConfigError(f"[{section}] {option}: {exc}") from exc


@dataclass(frozen=True)
class ServerConfig:
    """``[DEFAULT]``: where a service listens, keeps its data and writes its log."""

    bind_host: str = "127.0.0.1"
    port: int = 0
    database_url: str = "sqlite://"
    log_file: Path | None = None
    log_level: str = "INFO"

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> ServerConfig:
        log_file = parser.get("DEFAULT", "log_file", fallback="")
        return cls(
            bind_host=parser.get("DEFAULT", "bind_host", fallback=cls.bind_host),
            port=get_int(parser, "DEFAULT", "port", cls.port),
            database_url=parser.get("DEFAULT", "database_url", fallback=cls.database_url),
            log_file=Path(log_file) if log_file else None,
            log_level=parser.get("DEFAULT", "log_level", fallback=cls.log_level).upper(),
        )


@dataclass(frozen=True)
class AuthConfig:
    """``[keystone_authtoken]``: the service's own credentials and token checking."""

    auth_url: str
    username: str
    password: str
    project_name: str = "service"
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    token_cache_time: float = 10.0

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> AuthConfig:
        section = "keystone_authtoken"
        if not parser.has_section(section):
            raise ConfigError(f"missing section [{section}]")
        try:
            return cls(
                auth_url=parser.get(section, "auth_url"),
                username=parser.get(section, "username"),
                password=parser.get(section, "password"),
                project_name=parser.get(section, "project_name", fallback=cls.project_name),
                user_domain_name=parser.get(section, "user_domain_name",
                                            fallback=cls.user_domain_name),
                project_domain_name=parser.get(section, "project_domain_name",
                                               fallback=cls.project_domain_name),
                token_cache_time=get_float(parser, section, "token_cache_time",
                                           cls.token_cache_time),
            )
        except configparser.NoOptionError as exc:
            raise ConfigError(str(exc)) from exc
