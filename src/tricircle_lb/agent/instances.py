"""Instances as confined guests: the host's "hypervisor" (``runtime_api.InstanceRuntime``).

An instance is a network namespace ``tcl-i-<12 hex of its id>`` (the agent
plugs its ports into it) in which :mod:`.guest` builds the guest: for a
tenant, a user namespace whose root is an unprivileged id range of the host,
its own root filesystem (an overlay over the image, the host's ``/usr``
read-only), PID, UTS, IPC and mount namespaces, and cgroups limiting it to its
flavor's RAM and vCPUs; an amphora (a service guest) stays root of the host
but gets a root filesystem of its own and a bounded set of capabilities
(decision 063)::

    python -m tricircle_lb.guest.launcher <state>/instances/<host>/<id>/guest.json

PID 1 runs the init script: it sets the hostname, prints a few boot lines (as
cirros' console does), runs the user-data (a ``#!`` script with its
interpreter, anything else with ``sh``) and then sleeps. The launcher runs in
a session of its own, so the agent may die (even ``kill -9``) without taking
its instances along; stdout and stderr are appended to the console log. An
instance of the amphora image runs :func:`amphora_boot` instead of its
user-data, which is then the amphora agent's configuration.

State lives only in the kernel and under ``<state_dir>/instances/<host>/<id>/``
(``pid``: the launcher's; ``init-pid``: the guest's PID 1 seen from the host;
``netns``: the identity of the namespace it was started in; ``uid-base``:
its id range; ``console.log``, ``user-data``, ``guest.json``; ``disk/``: the
overlay's writable layer, kept across restarts as a VM keeps its disk): a new
runtime object on the same directory finds everything, which is what makes
every method idempotent across agent restarts. :meth:`NamespaceRuntime.remove`
kills the launcher (every process of the guest dies with it: parent-death
signals down to PID 1, whose death ends the PID namespace), then anything
still in the network namespace, then deletes the namespace, the cgroups and
the files.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import tricircle_lb
from tricircle_lb.dataplane.netns_socket import namespace_identity
from tricircle_lb.guest import cgroups
from tricircle_lb.guest.cgroups import CGROUP_ROOT, Limits
from tricircle_lb.guest.image import AMPHORA, CIRROS, HOST_BINDS, image_root
from tricircle_lb.guest.launcher import GuestSpec

LOG = logging.getLogger(__name__)

KILL_WAIT = 5.0
BOOT_WAIT = 10.0  # until the launcher reports the guest's PID 1

# Tenant guests' id ranges: 65536 ids each, from FIRST_GUEST_ID on, one slot per
# instance (derived from its id, the next free one on a collision).
FIRST_GUEST_ID = 0x1000_0000
GUEST_IDS = 65536
GUEST_SLOTS = 4096

# What an amphora's HAProxy, keepalived and agent need: the VIP and routes
# (NET_ADMIN), GARP and VRRP (NET_RAW), ports below 1024, HAProxy's maxconn
# (SYS_RESOURCE: file limits), signals to what they started, and root's
# ordinary file handling. No SYS_ADMIN (mounts, namespaces), SYS_MODULE,
# SYS_PTRACE, MKNOD.
AMPHORA_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID",
                        "NET_BIND_SERVICE", "NET_ADMIN", "NET_RAW", "SYS_RESOURCE"]

# PID 1 of the instance. $1: hostname, $2: user-data file (may be absent).
INIT = r"""
hostname "$1"
echo "tricircle-lb instance booting: hostname $1"
echo "=== network info ==="
ip -o link show 2>/dev/null | awk -F': ' '{print "if-info: " $2}' | grep -v '^if-info: lo$'
ip -o addr show scope global 2>/dev/null | awk '{print "addr-info: " $2 " " $4}'
if [ -f "$2" ]; then
    echo "=== running user-data ==="
    if [ "$(head -c 2 "$2")" = "#!" ]; then chmod 700 "$2"; "$2"; else sh "$2"; fi
    echo "=== user-data exited with status $? ==="
fi
echo "$1 login: instance is up"
exec sleep infinity
"""


# What the amphora image runs (as Octavia's image runs its agent from
# systemd): the amphora agent with the config drive's amphora-agent.conf,
# restarted when it exits. The guest's /run is a tmpfs of its own (gone with
# it): the key-bearing configuration and HAProxy's files live there, and
# HAProxy's stats socket path stays short (unix socket paths are limited to
# 107 bytes). The log stays beside the user-data, on the guest's disk
# (``disk/upper/var/lib/cloud/`` in the instance's folder), for whoever debugs it.
AMPHORA_BOOT = r"""#!/bin/sh
log="$(dirname "$0")/amphora-agent.log"
umask 077
mkdir -p /run/amphora
echo '{config}' | base64 -d > /run/amphora/amphora-agent.conf
echo "amphora-x64-haproxy: starting the amphora agent"
while :; do
    {python} -m tricircle_lb.loadbalancer.amphora.agent \
        --config /run/amphora/amphora-agent.conf --state-dir /run/amphora --log-file "$log"
    echo "amphora agent exited with status $?; restarting in 1 s"
    sleep 1
done
"""


def amphora_boot(config: bytes | None) -> bytes:
    """The boot script of an amphora whose user-data is ``config`` (amphora-agent.conf)."""
    encoded = base64.b64encode(config or b"").decode("ascii")
    return AMPHORA_BOOT.format(config=encoded, python=shlex.quote(sys.executable)).encode()


class InstanceError(Exception):
    """A namespace or process operation failed (the message says which and why)."""


def instances_dir(state_dir: Path, host: str) -> Path:
    """Where a host's instances keep their pid, console log and user-data."""
    return Path(state_dir) / "instances" / host


def sanitize_hostname(name: str, fallback: str) -> str:
    text = re.sub(r"[ _]", "-", name.lower())
    text = re.sub(r"[^a-z0-9.-]", "", text)[:63].strip(".-")
    return text or fallback


class NamespaceRuntime:
    def __init__(self, state_dir: Path, host: str, prefix: str = "tcl-",
                 images: Path | None = None, cgroup_root: Path = CGROUP_ROOT) -> None:
        """``prefix``: the deployment's namespace prefix (instances are ``<prefix>i-…``,
        their cgroups ``tricircle-lb/<prefix>/…``); ``images``: where the images'
        root filesystems are (built on first use; default under the venv)."""
        self.prefix = prefix
        self.ns_prefix = f"{prefix}i-"
        self.state_dir = Path(state_dir)
        self.host = host
        self.images = images
        self.cgroup_root = cgroup_root
        # One folder per host: hosts of the embedded deployment share this
        # machine, and an agent must only ever see (and remove) its own instances.
        self.root = instances_dir(self.state_dir, host)
        self._lock = threading.RLock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # -- names and files ----------------------------------------------------------

    def namespace(self, instance_id: str) -> str:
        return self.ns_prefix + instance_id.replace("-", "").lower()[:12]

    def _dir(self, instance_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", instance_id):
            raise InstanceError(f"bad instance id {instance_id!r}")
        return self.root / instance_id

    def _pid(self, instance_id: str) -> int | None:
        try:
            return int((self._dir(instance_id) / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    # -- namespaces ----------------------------------------------------------------

    def _netns_exists(self, ns: str) -> bool:
        return Path("/run/netns", ns).exists()

    @staticmethod
    def _netns_identity(ns: str) -> str | None:
        """``<dev>:<inode>`` of the named namespace: a namespace made anew has another."""
        identity = namespace_identity(ns)
        return None if identity is None else f"{identity[0]}:{identity[1]}"

    def lost(self, instance_id: str) -> bool:
        try:
            started_in = (self._dir(instance_id) / "netns").read_text().strip()
        except OSError:
            return False  # never started (or started by a release that kept no record)
        return self._netns_identity(self.namespace(instance_id)) != started_in

    def ensure_namespace(self, instance_id: str) -> str:
        ns = self.namespace(instance_id)
        with self._lock:
            self._dir(instance_id).mkdir(parents=True, exist_ok=True)
            if not self._netns_exists(ns):
                result = _ip("netns", "add", ns, check=False)
                if result.returncode != 0 and "File exists" not in result.stderr:
                    raise InstanceError(f"ip netns add {ns}: {result.stderr.strip()}")
            _ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def known(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    # -- processes -----------------------------------------------------------------

    def _alive_in_namespace(self, pid: int, ns: str) -> bool:
        """``pid`` is a live (not zombie) process in network namespace ``ns``."""
        self._reap(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                return False
            mine = os.stat(f"/proc/{pid}/ns/net")
            theirs = os.stat(f"/run/netns/{ns}")
        except (OSError, IndexError):
            return False
        return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)

    def _reap(self, pid: int) -> None:
        for instance_id, child in list(self._children.items()):
            if child.pid == pid and child.poll() is not None:
                del self._children[instance_id]

    def is_running(self, instance_id: str) -> bool:
        pid = self._pid(instance_id)
        return pid is not None and self._alive_in_namespace(pid, self.namespace(instance_id))

    def init_pid(self, instance_id: str) -> int | None:
        """The guest's PID 1 as the host sees it (for ``nsenter``), if it runs."""
        try:
            pid = int((self._dir(instance_id) / "init-pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _state(pid) not in ("Z", "") else None

    def start(self, instance_id: str, hostname: str, user_data: bytes | None,
              limits: Limits | None = None, service: bool = False) -> None:
        with self._lock:
            if self.is_running(instance_id):
                return
            self._kill_orphan(instance_id)
            ns = self.ensure_namespace(instance_id)
            folder = self._dir(instance_id)
            data_file = folder / "user-data"
            if user_data:
                data_file.write_bytes(user_data)
                data_file.chmod(0o700)
            else:
                data_file.unlink(missing_ok=True)
            spec = self._spec(instance_id, ns, sanitize_hostname(hostname, ns),
                              limits or Limits(), service)
            spec_file = folder / "guest.json"
            spec.dump(spec_file)
            (folder / "init-pid").unlink(missing_ok=True)
            console = folder / "console.log"
            with console.open("ab") as log:
                log.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] starting instance "
                          f"{instance_id} on {self.host} (netns {ns})\n".encode())
                log.flush()
                child = subprocess.Popen(
                    [sys.executable, "-m", "tricircle_lb.guest.launcher", str(spec_file)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, close_fds=True, cwd="/")
            self._children[instance_id] = child
            (folder / "pid").write_text(f"{child.pid}\n")
            # The launcher reports PID 1 once the guest is built.
            deadline = time.monotonic() + BOOT_WAIT
            while self.init_pid(instance_id) is None and child.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            (folder / "netns").write_text(f"{self._netns_identity(ns)}\n")
            if self.init_pid(instance_id) is None:
                tail = self.console(instance_id).strip().splitlines()[-1:]
                raise InstanceError(f"the guest did not boot: {' '.join(tail) or 'no output'}")
            LOG.info("instance %s started in %s (pid %d)", instance_id, ns, child.pid)

    def _spec(self, instance_id: str, ns: str, hostname: str, limits: Limits,
              service: bool) -> GuestSpec:
        folder = self._dir(instance_id)
        directories = cgroups.create(self.prefix, instance_id, limits, self.cgroup_root)
        image = image_root(AMPHORA if service else CIRROS, self.images)
        return GuestSpec(
            instance_id=instance_id, netns=ns, hostname=hostname, folder=str(folder),
            image=str(image), init=INIT, user_data=str(folder / "user-data"),
            uid_base=None if service else self._uid_base(instance_id), uid_count=GUEST_IDS,
            cgroups=[str(d) for d in directories],
            binds=[*HOST_BINDS, *(_python_environment() if service else [])],
            capabilities=AMPHORA_CAPABILITIES if service else [],
            # The amphora agent is this agent's code, wherever it was imported from.
            env={"PYTHONPATH": str(_project_code())} if service else {})

    def _uid_base(self, instance_id: str) -> int:
        """The instance's id range: kept in ``uid-base``; a new one is derived from its
        id, and moved to the next slot no instance of this state directory holds."""
        record = self._dir(instance_id) / "uid-base"
        with contextlib.suppress(OSError, ValueError):
            return int(record.read_text().strip())
        lock_file = self.state_dir / "instances" / ".uid-ranges.lock"
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with lock_file.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # agents of the embedded hosts share the dir
            used = set()
            for other in (self.state_dir / "instances").glob("*/*/uid-base"):
                with contextlib.suppress(OSError, ValueError):
                    used.add(int(other.read_text().strip()))
            slot = int(hashlib.sha256(instance_id.encode()).hexdigest(), 16) % GUEST_SLOTS
            for step in range(GUEST_SLOTS):
                base = FIRST_GUEST_ID + ((slot + step) % GUEST_SLOTS) * GUEST_IDS
                if base not in used:
                    record.write_text(f"{base}\n")
                    return base
        raise InstanceError("no free id range for a guest")

    def _kill_orphan(self, instance_id: str) -> None:
        """Kill an earlier start still running outside the instance's namespace (its
        namespace was deleted and made anew); the guest dies with its launcher."""
        pid = self._pid(instance_id)
        if pid is None or _state(pid) in ("Z", ""):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return
        # Ours only if it runs this instance's guest (a reused pid runs something else).
        if str(self._dir(instance_id) / "guest.json").encode() in cmdline:
            LOG.warning("instance %s: killing its processes left in a lost namespace (pid %d)",
                        instance_id, pid)
            _kill(pid)
            deadline = time.monotonic() + KILL_WAIT
            while _state(pid) not in ("Z", "") and time.monotonic() < deadline:
                self._reap(pid)
                time.sleep(0.02)

    def console(self, instance_id: str) -> str:
        try:
            return (self._dir(instance_id) / "console.log").read_bytes().decode(
                errors="replace")
        except OSError:
            return ""

    # -- removal -------------------------------------------------------------------

    def remove(self, instance_id: str) -> None:
        ns = self.namespace(instance_id)
        with self._lock:
            pid = self._pid(instance_id)
            if pid is not None and self._netns_exists(ns) \
                    and self._alive_in_namespace(pid, ns):
                _kill(pid)
            self._kill_orphan(instance_id)  # a guest whose namespace was lost
            if self._netns_exists(ns):
                self._kill_namespace_processes(ns)
                result = _ip("netns", "delete", ns, check=False)
                if result.returncode != 0 and self._netns_exists(ns):
                    raise InstanceError(f"ip netns delete {ns}: {result.stderr.strip()}")
            child = self._children.pop(instance_id, None)
            if child is not None:
                try:
                    child.wait(timeout=KILL_WAIT)
                except subprocess.TimeoutExpired:
                    LOG.warning("instance %s: its launcher did not exit", instance_id)
            try:
                cgroups.remove(cgroups.paths(self.prefix, instance_id, self.cgroup_root))
            except cgroups.CgroupError as exc:
                raise InstanceError(str(exc)) from exc
            shutil.rmtree(self._dir(instance_id), ignore_errors=True)
            LOG.info("instance %s removed", instance_id)

    def _kill_namespace_processes(self, ns: str) -> None:
        deadline = time.monotonic() + KILL_WAIT
        while True:
            pids = _netns_pids(ns)
            if not pids:
                return
            if time.monotonic() > deadline:
                raise InstanceError(f"processes {pids} of {ns} survived SIGKILL")
            for pid in pids:
                _kill(pid)
            time.sleep(0.05)


def _project_code() -> Path:
    """The directory ``tricircle_lb`` is imported from (``src`` of an editable install)."""
    return Path(tricircle_lb.__file__).resolve().parent.parent


def _python_environment() -> list[str]:
    """What an amphora needs to run the amphora agent: this Python environment, its
    base interpreter and the project's code (an editable install lives outside)."""
    found: list[str] = []
    for path in (Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
                 _project_code()):
        if str(path) != "/usr" and not any(path.is_relative_to(p) for p in map(Path, found)):
            found.append(str(path))
    return found


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise InstanceError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _netns_pids(ns: str) -> list[int]:
    result = _ip("netns", "pids", ns, check=False)
    pids = [int(p) for p in result.stdout.split() if p.isdigit()]
    # Zombies stay listed until reaped by their parent; they hold nothing.
    return [p for p in pids if _state(p) not in ("Z", "")]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
