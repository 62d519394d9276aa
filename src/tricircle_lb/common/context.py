"""Who is calling: the request context every handler receives."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Context:
    """The caller, as identity vouched for them (or the service itself)."""

    user_id: str
    project_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    token: str = ""
    user_name: str = ""
    project_name: str = ""
    domain_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        """``reader`` alone may look but not touch; ``member`` and ``admin`` may."""
        return bool(self.roles & {"admin", "member"})
