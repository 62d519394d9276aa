"""The host's packet filter: nftables tables the agent owns, loaded with ``nft -f``.

Contract of :class:`PacketFilter`:

- :meth:`~PacketFilter.digests` reads which version of the agent's tables a
  namespace holds (the ``comment`` of each table; none when absent), so a
  caller replaces them only when they differ from what it wants.
- :meth:`~PacketFilter.load` runs one ``nft -f`` script (one atomic
  transaction: on an error nothing changes) after turning on
  ``net.bridge.bridge-nf-call-iptables`` and ``…-ip6tables`` in the
  namespace, so bridged IPv4/IPv6 traverse the ``inet`` hooks with conntrack.
  It may be retried. Only the tables named in the script are touched;
  connection tracking is never flushed.
- A missing namespace raises :class:`~.errors.NamespaceNotFound`, an ``nft``
  that refuses the script :class:`PacketFilterError`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Protocol

from tricircle_lb.dataplane.errors import DataplaneError, NamespaceNotFound

BRIDGE_NF = ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables")
TIMEOUT = 20.0
_TABLE = re.compile(r'^table (\w+) (\S+) \{\n\s*comment "([^"]*)"', re.MULTILINE)


class PacketFilterError(DataplaneError):
    """``nft`` failed or refused a script (its message attached)."""


class PacketFilter(Protocol):
    def digests(self, ns: str) -> dict[tuple[str, str], str]:
        """``{(family, table): comment}`` of every table with a comment in ``ns``."""
        ...

    def load(self, ns: str, script: str) -> None:
        """Bridge netfilter on, then ``nft -f -`` of ``script`` in ``ns``."""
        ...


class NftPacketFilter:
    """:class:`PacketFilter` with the OS's ``nft`` (``ip netns exec`` for a namespace)."""

    def __init__(self, nft: str | None = None) -> None:
        self.nft = nft or shutil.which("nft") or "/usr/sbin/nft"

    def _run(self, ns: str, argv: list[str], stdin: str | None = None) -> str:
        if ns:
            argv = ["ip", "netns", "exec", ns, *argv]
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                  timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PacketFilterError(f"{' '.join(argv[:5])}: {exc}") from exc
        if done.returncode != 0:
            message = done.stderr.strip()
            if ns and "Cannot open network namespace" in message:
                raise NamespaceNotFound(ns)
            command = argv[4:] if ns else argv
            raise PacketFilterError(f"{' '.join(command)[:200]}: {message[:2000]}")
        return done.stdout

    def digests(self, ns: str) -> dict[tuple[str, str], str]:
        # Terse: sets without their elements; the comments are all this needs.
        text = self._run(ns, [self.nft, "-t", "list", "ruleset"])
        return {(m[1], m[2]): m[3] for m in _TABLE.finditer(text)}

    def load(self, ns: str, script: str) -> None:
        writes = " && ".join(f"echo 1 > /proc/sys/net/bridge/{name}" for name in BRIDGE_NF)
        # /proc/sys/net belongs to the namespace of the process that opens it.
        self._run(ns, ["sh", "-c", writes])
        self._run(ns, [self.nft, "-f", "-"], stdin=script)


class FakePacketFilter:
    """In memory: the last script per namespace; ``fail`` makes :meth:`load` raise."""

    def __init__(self) -> None:
        self.scripts: dict[str, str] = {}
        self.tables: dict[str, dict[tuple[str, str], str]] = {}
        self.loads = 0
        self.fail: str | None = None

    def digests(self, ns: str) -> dict[tuple[str, str], str]:
        return dict(self.tables.get(ns, {}))

    def load(self, ns: str, script: str) -> None:
        if self.fail:
            raise PacketFilterError(self.fail)
        self.loads += 1
        self.scripts[ns] = script
        self.tables[ns] = {(m[1], m[2]): m[3] for m in _TABLE.finditer(script)}
