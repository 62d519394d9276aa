"""``[identity]``: token lifetime and the bootstrap administrator.

docs/config/identity.md documents every option.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass

from tricircle_lb.common.config import ConfigError, get_int

SECTION = "identity"


@dataclass(frozen=True)
class IdentityConfig:
    bootstrap_admin_password: str
    token_expiration: int = 3600
    bootstrap_admin_user: str = "admin"
    bootstrap_project: str = "admin"

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> IdentityConfig:
        if not parser.has_section(SECTION):
            raise ConfigError(f"missing section [{SECTION}]")
        password = parser.get(SECTION, "bootstrap_admin_password", fallback="")
        if not password:
            raise ConfigError(f"[{SECTION}] bootstrap_admin_password is required")
        expiration = get_int(parser, SECTION, "token_expiration", cls.token_expiration)
        if expiration < 1:
            raise ConfigError(f"[{SECTION}] token_expiration must be at least 1 second")
        return cls(
            bootstrap_admin_password=password,
            token_expiration=expiration,
            bootstrap_admin_user=parser.get(SECTION, "bootstrap_admin_user",
                                            fallback=cls.bootstrap_admin_user),
            bootstrap_project=parser.get(SECTION, "bootstrap_project",
                                         fallback=cls.bootstrap_project),
        )
