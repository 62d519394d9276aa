"""The root filesystems of the catalogue's images (decision 063).

An image is a small directory: ``/etc`` (passwd, group, hosts, resolv.conf,
os-release, …), ``/root``, ``/home``, ``/tmp``, ``/var``, empty mount points
(``/usr``, ``/proc``, ``/sys``, ``/dev``, ``/run``) and the merged-``/usr``
links (``/bin`` → ``usr/bin``, …). The guest gets the host's ``/usr`` (and the
few ``/etc`` files its programs read: the dynamic linker's cache, the
``alternatives`` links, TLS certificates) bound read-only: :data:`HOST_BINDS`.
``/opt/busybox/bin`` links the BusyBox applets the host's ``/usr`` lacks
(``nc``, ``udhcpc``, …), last on the guest's PATH, so a guest offers what
CirrOS offers (sh, BusyBox, ``ip``, ``nc``, ``wget``, ``curl``) and ``python3``.

Images are built once (``python -m tricircle_lb.guest.image``, which
``scripts/lib/install.sh`` runs) or by the runtime on first use, under
``<venv>/share/tricircle-lb/images/<name>``; a stamp with :data:`VERSION` makes
the build idempotent.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = "1"
CIRROS = "cirros"
AMPHORA = "amphora-x64-haproxy"
BUSYBOX = "/usr/bin/busybox"

# Host paths bound read-only at the same place in every guest.
HOST_BINDS = ("/usr", "/etc/ld.so.cache", "/etc/alternatives", "/etc/ssl",
              "/etc/ca-certificates")

OS_RELEASE = {
    CIRROS: ('NAME="CirrOS"\nVERSION="0.6.2 (tricircle-lb guest)"\nID=cirros\n'
             'ID_LIKE=debian\nVERSION_ID="0.6.2"\n'
             'PRETTY_NAME="CirrOS 0.6.2 compatible (tricircle-lb guest)"\n'),
    AMPHORA: ('NAME="Octavia amphora"\nID=amphora\nID_LIKE=debian\n'
              'PRETTY_NAME="amphora-x64-haproxy (tricircle-lb service guest)"\n'),
}

PASSWD = """root:x:0:0:root:/root:/bin/sh
cirros:x:1000:1000:cirros:/home/cirros:/bin/sh
haproxy:x:100:101::/var/lib/haproxy:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
tty:x:5:
haproxy:x:101:
cirros:x:1000:
nogroup:x:65534:
"""
FILES = {
    "etc/passwd": PASSWD,
    "etc/group": GROUP,
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "etc/resolv.conf": "",
    "etc/hostname": "cirros\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    "etc/profile": "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                   "/sbin:/bin:/opt/busybox/bin\nexport PS1='$ '\n",
}
COPIED_FROM_HOST = ("etc/services", "etc/protocols", "etc/mime.types")
DIRECTORIES = {"usr": 0o755, "proc": 0o555, "sys": 0o555, "dev": 0o755, "run": 0o755,
               "tmp": 0o1777, "var/tmp": 0o1777, "var/lib/cloud": 0o755, "var/log": 0o755,
               "var/lib/haproxy": 0o755, "root": 0o700, "home": 0o755, "mnt": 0o755,
               "opt/busybox/bin": 0o755, "etc/ssl": 0o755, "etc/alternatives": 0o755,
               "etc/ca-certificates": 0o755}
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
GUEST_PATH_DIRS = ("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin")


def images_dir() -> Path:
    """Where images are built: under the Python environment the agent runs from."""
    return Path(sys.prefix) / "share" / "tricircle-lb" / "images"


def image_root(name: str, base: Path | None = None) -> Path:
    """The image's root filesystem, built first if needed (safe from several agents)."""
    base = images_dir() if base is None else base
    root = base / name
    stamp = base / f"{name}.stamp"
    if stamp.is_file() and stamp.read_text().strip() == VERSION and root.is_dir():
        return root
    base.mkdir(parents=True, exist_ok=True)
    with (base / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.is_file() and stamp.read_text().strip() == VERSION):
            build(name, root)
            stamp.write_text(VERSION + "\n")
    return root


def build(name: str, root: Path) -> None:
    """(Re)build image ``name`` at ``root`` from the host's files and BusyBox."""
    new = root.with_name(root.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    new.chmod(0o755)
    for link in MERGED_USR:
        if os.path.isdir(f"/usr/{link}"):
            os.symlink(f"usr/{link}", new / link)
    for directory, mode in DIRECTORIES.items():
        (new / directory).mkdir(parents=True, exist_ok=True)
        (new / directory).chmod(mode)
    home = new / "home" / "cirros"
    home.mkdir()
    os.chown(home, 1000, 1000)
    for path, text in {**FILES, "etc/os-release": OS_RELEASE[name]}.items():
        (new / path).write_text(text)
    (new / "etc/shadow").write_text("root:*:19000:0:99999:7:::\ncirros:*:19000:0:99999:7:::\n")
    (new / "etc/shadow").chmod(0o640)
    (new / "etc/ld.so.cache").touch()  # a mount point for the host's
    for path in COPIED_FROM_HOST:
        if os.path.isfile(f"/{path}"):
            shutil.copyfile(f"/{path}", new / path)
    _busybox_links(new / "opt/busybox/bin")
    old = root.with_name(root.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        root.rename(old)
    new.rename(root)
    shutil.rmtree(old, ignore_errors=True)


def _busybox_links(directory: Path) -> None:
    """A link per BusyBox applet the host's /usr does not have."""
    if not os.access(BUSYBOX, os.X_OK):
        return
    listed = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=False)
    for applet in listed.stdout.split():
        if "/" in applet or applet.startswith("["):
            continue
        if not any(os.path.lexists(f"/{d}/{applet}") for d in GUEST_PATH_DIRS):
            os.symlink(BUSYBOX, directory / applet)


def main() -> int:
    for name in (CIRROS, AMPHORA):
        print(f"image {name}: {image_root(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
