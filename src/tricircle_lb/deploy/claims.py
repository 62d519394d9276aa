"""Which state directory owns a namespace prefix on this machine.

Network namespaces are machine-wide, a state directory is not: two
deployments with the same prefix (``tcl-`` by default) would build and tear
down each other's namespaces. So ``up`` claims its prefix before it builds
anything, and ``down`` removes namespaces only under a prefix its own state
directory owns::

    /run/tricircle-lb/prefixes/<prefix>     the owner's state directory (one line)

``/run`` is a tmpfs: a reboot forgets every claim together with every
namespace. A claim whose state directory is gone, or whose deployment has
neither a live supervisor nor a namespace left, is stale and may be taken
over. A state directory that ran before claims existed (its ``topology.ini``
is there, nobody claims the prefix) still owns its prefix, so ``down`` keeps
working after an upgrade.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from tricircle_lb.deploy import processes
from tricircle_lb.deploy.state import StatePaths

CLAIMS_DIR = Path("/run/tricircle-lb/prefixes")
SUPERVISOR_PID = "supervisor"


class PrefixTaken(Exception):
    """Another live deployment owns the prefix; the message names it and the way out."""


def _file(prefix: str, claims_dir: Path | None) -> Path:
    if not prefix or "/" in prefix or prefix in (".", ".."):
        raise ValueError(f"bad namespace prefix {prefix!r}")
    return (claims_dir or CLAIMS_DIR) / prefix


@contextlib.contextmanager
def _locked(claims_dir: Path | None) -> Iterator[None]:
    """Serialize claim changes of every deployment on the machine."""
    claims_dir = claims_dir or CLAIMS_DIR
    claims_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    fd = os.open(claims_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def owner(prefix: str, claims_dir: Path | None = None) -> Path | None:
    """The state directory that claims ``prefix``, or None."""
    try:
        text = _file(prefix, claims_dir).read_text().strip()
    except OSError:
        return None
    return Path(text) if text else None


def _same(a: Path, b: Path) -> bool:
    return a.absolute() == b.absolute()


def _alive(state_dir: Path, prefix: str, namespaces: Callable[[], list[str]]) -> bool:
    """Whether the deployment of ``state_dir`` still runs or still holds namespaces."""
    if not state_dir.exists():
        return False
    paths = StatePaths(state_dir)
    if processes.read_pid(paths.pid_file(SUPERVISOR_PID)) is not None:
        return True
    return any(n.startswith(prefix) for n in namespaces())


def claim(prefix: str, state_dir: Path, namespaces: Callable[[], list[str]],
          claims_dir: Path | None = None) -> None:
    """Make ``state_dir`` the owner of ``prefix``; :class:`PrefixTaken` if another
    live deployment owns it."""
    with _locked(claims_dir):
        current = owner(prefix, claims_dir)
        if current is not None and not _same(current, state_dir) and _alive(
                current, prefix, namespaces):
            raise PrefixTaken(
                f"the namespace prefix {prefix!r} belongs to the deployment in {current}; "
                f"stop it first (tricircle-lb down --state-dir {current}) or give this "
                "deployment a prefix of its own ([underlay] prefix in the topology file)")
        path = _file(prefix, claims_dir)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(f"{state_dir.absolute()}\n")
        os.replace(tmp, path)


def owns(prefix: str, state_dir: Path, claims_dir: Path | None = None) -> bool:
    """Whether ``down`` of ``state_dir`` may remove namespaces named ``prefix…``."""
    current = owner(prefix, claims_dir)
    if current is not None:
        return _same(current, state_dir)
    return StatePaths(state_dir).topology.exists()


def release(prefix: str, state_dir: Path, claims_dir: Path | None = None) -> None:
    """Drop the claim if ``state_dir`` holds it (anyone else's stays)."""
    with _locked(claims_dir):
        current = owner(prefix, claims_dir)
        if current is not None and _same(current, state_dir):
            _file(prefix, claims_dir).unlink(missing_ok=True)
