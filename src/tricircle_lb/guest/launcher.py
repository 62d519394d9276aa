"""The guest launcher: confines one instance, then becomes its init (decision 063).

``python -m tricircle_lb.guest.launcher <instance folder>/guest.json`` is what the
instance runtime (``agent/instances.py``) starts; its stdout is the console log. The
launcher runs as root on the host and builds the guest in these steps:

1. **Disk.** ``disk/upper`` and ``disk/work`` (the overlay's writable layer,
   kept across restarts as a VM keeps its disk), with the user-data copied to
   ``/var/lib/cloud/user-data`` in it.
2. **Network.** Enter the instance's network namespace (``tcl-i-…``, made by
   the agent, which plugs the ports into it); for a tenant, let unprivileged
   users of that namespace bind ports below 1024 and ping, as a VM's root can.
3. **Mounts, as the host's root, in a mount namespace of the launcher's own**
   (private: nothing propagates back to the host): the overlay root
   (read-only lower layer = the image, writable upper layer = ``disk/upper``),
   the host's ``/usr`` and a few ``/etc`` files read-only, a ``/sys`` of the
   instance's network namespace read-only, and a minimal ``/dev``.
4. **The guest's process** (a child), for a tenant: a **user namespace**
   whose root is an unprivileged id range of the host (the launcher writes
   its ``uid_map``/``gid_map``); the image's lower layer is mounted
   *id-mapped* into that range, so the guest's root owns its files without a
   copy of the image per instance. The child joins the instance's cgroups,
   unshares mount, PID, UTS, IPC and cgroup namespaces (its mount namespace is
   owned by the user namespace, so every mount the launcher made is locked:
   the guest can neither unmount them nor make them writable), sets the
   hostname, and forks PID 1.
5. **PID 1** (its cwd the new root, where its parent left it: the guest's
   root may not cross the state directory on the way there) mounts its own
   ``/proc``, ``/dev/pts``, ``/dev/shm`` and ``/run``, pivots into the new
   root, detaches the host's, drops the capabilities a service guest (an
   amphora) does not need, and execs the init script.

Lifetime: every process has a parent-death signal (SIGKILL) on the one above
it, so killing the launcher (its pid is the instance's ``pid`` file) kills the
whole guest: the launcher, then the child, then PID 1 and with it the PID
namespace. The launcher records PID 1's host pid in ``init-pid`` (``nsenter``
into the guest uses it) and exits with the guest's status.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

# -- system calls (CPython 3.11 has no os.unshare / os.setns) ---------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24

# x86_64 system call numbers.
SYS_PIVOT_ROOT = 155
SYS_CAPGET = 125
SYS_CAPSET = 126
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_IDMAP = 0x100000

# Capabilities by name (linux/capability.h), for a service guest's bounding set.
CAPABILITIES = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4,
    "KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14,
    "SYS_MODULE": 16, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_ADMIN": 21,
    "SYS_NICE": 23, "SYS_RESOURCE": 24, "MKNOD": 27, "AUDIT_WRITE": 29,
}

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/busybox/bin"
USER_DATA = "/var/lib/cloud/user-data"  # where the guest finds its user-data
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


class GuestError(Exception):
    """A step of building the guest failed (the message names the step)."""


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise GuestError(f"{what}: {os.strerror(err)}")
    return result


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def setns(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, nstype), f"setns {path}")
    finally:
        os.close(fd)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    _check(_libc.mount(None if source is None else source.encode(), target.encode(),
                       None if fstype is None else fstype.encode(), ctypes.c_ulong(flags),
                       None if data is None else data.encode()),
           f"mount {fstype or source} on {target}")


def bind_readonly(source: str, target: str) -> None:
    """A read-only, nosuid, nodev bind of ``source`` (not its submounts) on ``target``."""
    mount(source, target, None, MS_BIND)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def pivot_root(new_root: str) -> None:
    """Make ``new_root`` the root and detach the old one (the ``pivot_root(".", ".")``
    idiom: no directory for the old root is needed)."""
    if new_root != ".":
        os.chdir(new_root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detaching the host's root")
    os.chdir("/")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def bind_idmapped(source: str, target: str, userns_fd: int) -> None:
    """Bind ``source`` read-only on ``target``, its owners shifted by the user
    namespace's mapping (host uid 0 is the guest's root)."""
    tree = _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, source.encode(),
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), f"open_tree {source}")
    try:
        attr = _MountAttr(MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY, 0, 0, userns_fd)
        _check(_libc.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr),
                             ctypes.sizeof(attr)), f"id-mapping {source}")
        _check(_libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(),
                             MOVE_MOUNT_F_EMPTY_PATH), f"attaching {source} on {target}")
    finally:
        os.close(tree)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def limit_capabilities(keep: list[str]) -> None:
    """Drop every capability but ``keep`` from the bounding set and the inheritable
    set: what root execs next has at most ``keep``."""
    wanted = {CAPABILITIES[name] for name in keep}
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if cap not in wanted:
            prctl(PR_CAPBSET_DROP, cap)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.syscall(SYS_CAPGET, ctypes.byref(header), data), "capget")
    for half in data:
        half.inheritable = 0
    _check(_libc.syscall(SYS_CAPSET, ctypes.byref(header), data), "capset")


# -- what to build ------------------------------------------------------------------

@dataclass
class GuestSpec:
    """Everything the launcher needs, written by the runtime as ``guest.json``.

    ``uid_base`` set: a tenant guest (user namespace of ``uid_count`` ids from
    it); ``None``: a service guest (host root, bounding set ``capabilities``).
    """

    instance_id: str
    netns: str
    hostname: str
    folder: str  # the instance's folder (disk/, root/, init-pid)
    image: str  # the image's root filesystem (the overlay's lower layer)
    init: str  # the init script (sh -c), $1 hostname, $2 the user-data path
    user_data: str  # the host's copy of the user-data (may be absent)
    uid_base: int | None = None
    uid_count: int = 65536
    cgroups: list[str] = field(default_factory=list)  # directories to join
    binds: list[str] = field(default_factory=list)  # host paths, bound read-only in place
    capabilities: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # added to the init's environment

    @property
    def tenant(self) -> bool:
        return self.uid_base is not None

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> GuestSpec:
        return cls(**json.loads(path.read_text()))


# -- 1. disk --------------------------------------------------------------------------

def prepare_disk(spec: GuestSpec) -> tuple[Path, Path, Path]:
    """The overlay's upper and work directories and the mount point; the user-data in
    place. A tenant's upper layer belongs to its root (``uid_base``)."""
    folder = Path(spec.folder)
    upper, work, root = folder / "disk" / "upper", folder / "disk" / "work", folder / "root"
    for path in (upper, work, root):
        path.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "work", ignore_errors=True)  # a crashed overlay's leftovers
    owner = spec.uid_base if spec.tenant else 0
    assert owner is not None
    cloud = upper / USER_DATA.lstrip("/")
    cloud.parent.mkdir(parents=True, exist_ok=True)
    for path in (upper, cloud.parents[2], cloud.parents[1], cloud.parent):
        os.chown(path, owner, owner)
    source = Path(spec.user_data)
    if source.is_file():
        shutil.copyfile(source, cloud)
        os.chown(cloud, owner, owner)
        cloud.chmod(0o700)
    else:
        cloud.unlink(missing_ok=True)
    return upper, work, root


# -- 3. mounts ------------------------------------------------------------------------

def mount_root(spec: GuestSpec, upper: Path, work: Path, root: Path,
               userns_fd: int | None) -> None:
    """The guest's root filesystem at ``root``, in the launcher's mount namespace."""
    lower = spec.image
    if userns_fd is not None:
        # The image belongs to the host's root; seen through the guest's mapping it
        # belongs to the guest's root (overlay takes id-mapped layers).
        mapped = Path(spec.folder) / "disk" / "lower"
        mapped.mkdir(exist_ok=True)
        bind_idmapped(spec.image, str(mapped), userns_fd)
        lower = str(mapped)
    mount("overlay", str(root), "overlay", MS_NOSUID | MS_NODEV,
          f"lowerdir={lower},upperdir={upper},workdir={work}")
    for source in spec.binds:
        if not os.path.exists(source):
            continue
        target = str(root) + source
        if not os.path.lexists(target):
            if os.path.isdir(source):
                os.makedirs(target, exist_ok=True)
            else:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                Path(target).touch()
        bind_readonly(source, target)
    # /sys of the instance's network namespace (as ``ip netns exec`` mounts it).
    mount("sysfs", f"{root}/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _minimal_dev(f"{root}/dev")


def _minimal_dev(dev: str) -> None:
    mount("guest-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        Path(dev, name).touch()
        mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    for name in ("pts", "shm"):
        os.mkdir(f"{dev}/{name}")
    for name, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"),
                         ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")


# -- 4. and 5. the guest's processes -------------------------------------------------------

def _join_cgroups(spec: GuestSpec) -> None:
    for directory in spec.cgroups:
        Path(directory, "cgroup.procs").write_text(f"{os.getpid()}\n")


def _pid1(spec: GuestSpec) -> None:
    """PID 1 of the guest (its cwd is the new root): its own /proc and friends, the
    pivot, the init script."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620")
    mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    mount("run", "run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    pivot_root(".")
    if not spec.tenant:
        limit_capabilities(spec.capabilities)
    env = {"PATH": GUEST_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
           "SHELL": "/bin/sh", "LANG": "C.UTF-8", "TERM": "vt100", **spec.env}
    os.execve("/bin/sh", ["sh", "-c", spec.init, "init", spec.hostname, USER_DATA], env)


def _child(spec: GuestSpec, root: Path, go: int, report: int) -> int:
    """The launcher's child: user namespace, the other namespaces, PID 1's parent."""
    launcher = os.getppid()
    _join_cgroups(spec)
    if spec.tenant:
        unshare(CLONE_NEWUSER)
    os.write(report, b"u")
    if os.read(go, 1) != b"g":
        return 1  # the launcher gave up
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)
    # Still the host's uid (the owner of the state directory's folders on the way
    # to the root, which the guest's root may not cross): pivot_root refuses a
    # locked mount (the launcher's, seen from the user namespace), so the guest
    # pivots onto a bind of it (its submounts stay locked); its cwd is the root.
    mount(str(root), str(root), None, MS_BIND | MS_REC)
    os.chdir(root)
    if spec.tenant:
        # Root of the user namespace (the launcher mapped it): no capability outside.
        os.setgroups([])
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    socket.sethostname(spec.hostname)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the credential change, which clears it
    if os.getppid() != launcher:
        return 1
    pid = os.fork()
    if pid == 0:
        try:
            _pid1(spec)
        except BaseException as exc:
            print(f"guest: {exc}", file=sys.stderr, flush=True)
        os._exit(127)
    os.write(report, f"{pid}\n".encode())
    os.close(report)
    return _wait(pid)


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 1
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            return os.waitstatus_to_exitcode(status) & 0xFF


def _map_ids(spec: GuestSpec, pid: int) -> int:
    """Write the child's uid and gid maps; the user namespace's fd (for id-mapping)."""
    assert spec.uid_base is not None
    line = f"0 {spec.uid_base} {spec.uid_count}\n"
    Path(f"/proc/{pid}/uid_map").write_text(line)
    Path(f"/proc/{pid}/gid_map").write_text(line)
    return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)


def _unprivileged_network() -> None:
    """What a VM's root may do on its network without owning the namespace: bind
    ports below 1024 and ping (ICMP datagram sockets). Both are sysctls of the
    instance's network namespace (the launcher is in it), not of the host."""
    Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").write_text("0\n")
    Path("/proc/sys/net/ipv4/ping_group_range").write_text("0 2147483647\n")


def launch(spec: GuestSpec) -> int:
    """Build and run the guest; its exit status."""
    upper, work, root = prepare_disk(spec)
    setns(f"/run/netns/{spec.netns}", CLONE_NEWNET)
    if spec.tenant:
        _unprivileged_network()
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    go_r, go_w = os.pipe()
    report_r, report_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(go_w)
        os.close(report_r)
        code = 1
        try:
            code = _child(spec, root, go_r, report_w)
        except BaseException as exc:
            print(f"guest: {exc}", file=sys.stderr, flush=True)
        os._exit(code)
    os.close(go_r)
    os.close(report_w)
    try:
        if os.read(report_r, 1) != b"u":
            raise GuestError("the guest's first process died")
        userns = _map_ids(spec, child) if spec.tenant else None
        mount_root(spec, upper, work, root, userns)
        if userns is not None:
            os.close(userns)
        os.write(go_w, b"g")
        init = os.read(report_r, 32).decode().strip()
        if not init.isdigit():
            raise GuestError("the guest's PID 1 did not start")
        Path(spec.folder, "init-pid").write_text(f"{init}\n")
    except BaseException:
        os.kill(child, signal.SIGKILL)
        _wait(child)
        raise
    return _wait(child)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tricircle_lb.guest.launcher <guest.json>", file=sys.stderr)
        return 2
    try:
        return launch(GuestSpec.load(Path(args[0])))
    except (GuestError, OSError) as exc:
        print(f"guest: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
