"""Identity: a Keystone v3 subset (password tokens, catalog, projects, roles).

``create_app(config_file)`` builds the service; :class:`LocalTokenValidator`
validates tokens in-process.
"""

from tricircle_lb.identity.app import create_app
from tricircle_lb.identity.tokens import LocalTokenValidator

__all__ = ["LocalTokenValidator", "create_app"]
