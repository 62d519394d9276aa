"""``[identity]``: token lifetime, the bootstrap administrator and identity's own endpoints.

docs/configuration.md documents every option.
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
    bootstrap_region_id: str = ""
    bootstrap_public_url: str = ""
    bootstrap_internal_url: str = ""
    bootstrap_admin_url: str = ""

    def bootstrap_urls(self) -> dict[str, str]:
        """Identity's own endpoints to register, by interface (only those configured)."""
        urls = {"public": self.bootstrap_public_url, "internal": self.bootstrap_internal_url,
                "admin": self.bootstrap_admin_url}
        return {interface: url for interface, url in urls.items() if url}

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
            **{option: parser.get(SECTION, option, fallback="") for option in (
                "bootstrap_region_id", "bootstrap_public_url", "bootstrap_internal_url",
                "bootstrap_admin_url")},
        )
