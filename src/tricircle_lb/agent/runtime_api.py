"""What the agent needs from the instance runtime (``agent/instances.py``).

An instance is a network namespace ``tcl-i-<first 12 hex of its id>`` on
its host, in which a confined guest runs its user-data (its own user, mount,
PID, UTS and IPC namespaces, root filesystem and cgroups; decision 063).
The agent plugs the instance's ports into that namespace, then calls
:meth:`InstanceRuntime.start`.

Contract: every method is idempotent and may be called again after the agent
was restarted or killed; the runtime finds its state from what exists
(namespaces, pid files under ``<state_dir>/instances/``), not from memory.
"""

from __future__ import annotations

from typing import Protocol

from tricircle_lb.guest.cgroups import Limits


class InstanceRuntime(Protocol):
    def namespace(self, instance_id: str) -> str:
        """``tcl-i-<first 12 hex of id without dashes>`` (whether it exists or not)."""
        ...

    def ensure_namespace(self, instance_id: str) -> str:
        """Create the instance's namespace if missing; its name."""
        ...

    def is_running(self, instance_id: str) -> bool: ...

    def lost(self, instance_id: str) -> bool:
        """It was started and its namespace is gone or was made anew since (the host
        lost it, as a rebooted hypervisor loses its guests): start it again."""
        ...

    def start(self, instance_id: str, hostname: str, user_data: bytes | None,
              limits: Limits | None = None, service: bool = False) -> None:
        """Start the instance's processes (after its ports are plugged); no-op if running.
        Processes of an earlier start left in a namespace that is no longer the
        instance's are killed first. ``limits``: its flavor's (``None``: none);
        ``service``: an operator's service guest (an amphora: root of the host with
        the capabilities HAProxy and keepalived need) rather than a tenant's
        unprivileged one."""
        ...

    def remove(self, instance_id: str) -> None:
        """Kill its processes, delete its namespace, cgroups and files."""
        ...

    def known(self) -> list[str]:
        """Ids of the instances that have a namespace on this host."""
        ...

    def console(self, instance_id: str) -> str:
        """The console log text (the output of its user-data)."""
        ...
