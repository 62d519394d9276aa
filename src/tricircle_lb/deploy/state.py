"""The state directory: where a deployment keeps everything it owns.

::

    <state>/
      topology.ini        the topology the deployment was started with
      secrets.ini         generated passwords (0600)
      etc/<service>.ini   generated service configuration (0600)
      <service>.db        SQLite databases
      log/<service>.log   JSON log lines; <service>.stdout: raw output
      run/<service>.pid   pids of the supervisor and every service
      run/state.json      what the supervisor is doing (starting, ready, failed)

Secrets are made with :mod:`secrets` on first use and kept, so passwords
survive ``down``/``up`` and are different in every state directory.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def topology(self) -> Path:
        return self.root / "topology.ini"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.ini"

    @property
    def supervisor_state(self) -> Path:
        return self.run / "state.json"

    def config_file(self, service: str) -> Path:
        return self.etc / f"{service}.ini"

    def database_url(self, service: str) -> str:
        return f"sqlite:///{self.root / f'{service}.db'}"

    def log_file(self, service: str) -> Path:
        return self.log / f"{service}.log"

    def stdout_file(self, service: str) -> Path:
        return self.log / f"{service}.stdout"

    def pid_file(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        for sub in (self.etc, self.log, self.run):
            sub.mkdir(mode=0o700, exist_ok=True)


@dataclass(frozen=True)
class Secrets:
    admin_password: str
    service_password: str
    demo_password: str
    # Signs amphora heartbeats and the controller's calls to amphora agents.
    heartbeat_key: str
    # Barbican's simple_crypto key-encryption key: a Fernet key (32 random bytes,
    # url-safe base64) that wraps every project's key, so the secrets in its
    # database are unreadable without this file.
    key_manager_kek: str

    FIELDS: ClassVar[tuple[str, ...]] = ("admin_password", "service_password",
                                         "demo_password", "heartbeat_key",
                                         "key_manager_kek")
    # Made by the next ``up`` when a state directory predates it (its users and
    # passwords stay usable meanwhile).
    ADDED_LATER: ClassVar[frozenset[str]] = frozenset({"key_manager_kek"})

    @classmethod
    def load(cls, paths: StatePaths) -> Secrets | None:
        """The secrets of this state directory, or None before the first ``up``."""
        if not paths.secrets.exists():
            return None
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(paths.secrets)
        values = {f: parser.get("secrets", f, fallback="") for f in cls.FIELDS}
        if not all(v for f, v in values.items() if f not in cls.ADDED_LATER):
            return None
        return cls(**values)

    @classmethod
    def load_or_create(cls, paths: StatePaths) -> Secrets:
        existing = cls.load(paths)
        if existing is not None and all(getattr(existing, f) for f in cls.FIELDS):
            return existing
        # Keep what an older release wrote (passwords already in identity's
        # database); make only the missing ones.
        values: dict[str, str] = {}
        if paths.secrets.exists():
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(paths.secrets)
            values = {f: parser.get("secrets", f, fallback="") for f in cls.FIELDS}
        made = cls(**{f: values.get(f) or _new_secret(f) for f in cls.FIELDS})
        parser = configparser.ConfigParser(interpolation=None)
        parser["secrets"] = {f: getattr(made, f) for f in cls.FIELDS}
        write_private(paths.secrets, parser)
        return made


def _new_secret(field: str) -> str:
    if field == "key_manager_kek":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(24)


def write_private(path: Path, parser: configparser.ConfigParser, header: str = "") -> None:
    """Write an INI file readable by its owner only (created 0600, never world-readable)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        if header:
            f.write(header)
        parser.write(f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
