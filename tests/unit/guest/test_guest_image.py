"""The images' root filesystems, built into a temporary directory (no root needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tricircle_lb.guest import image
from tricircle_lb.guest.image import AMPHORA, CIRROS, image_root


def test_cirros_root_is_a_small_cirros_compatible_tree(tmp_path: Path) -> None:
    root = image_root(CIRROS, tmp_path)
    assert root == tmp_path / CIRROS
    assert "ID=cirros" in (root / "etc/os-release").read_text()
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0:root:/root:/bin/sh\n")
    assert os.readlink(root / "bin") == "usr/bin"  # merged /usr: the host's, bound later
    assert list((root / "usr").iterdir()) == []  # a mount point
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (root / "root").stat().st_mode & 0o777 == 0o700
    assert (root / "etc/ld.so.cache").stat().st_size == 0  # a mount point for the host's
    for mount_point in ("proc", "sys", "dev", "run", "etc/ssl", "etc/alternatives"):
        assert (root / mount_point).is_dir()


@pytest.mark.skipif(not os.access(image.BUSYBOX, os.X_OK), reason="no busybox")
def test_busybox_fills_in_what_the_hosts_usr_lacks(tmp_path: Path) -> None:
    links = tmp_path / CIRROS / "opt/busybox/bin"
    image_root(CIRROS, tmp_path)
    for applet in os.listdir(links):
        assert os.readlink(links / applet) == image.BUSYBOX
        assert not any(os.path.lexists(f"/{d}/{applet}") for d in image.GUEST_PATH_DIRS)
    if not os.path.lexists("/usr/bin/nc"):
        assert (links / "nc").is_symlink()  # CirrOS has nc


def test_built_once_then_kept(tmp_path: Path) -> None:
    root = image_root(AMPHORA, tmp_path)
    assert "amphora" in (root / "etc/os-release").read_text()
    (root / "etc/kept").write_text("x")
    assert image_root(AMPHORA, tmp_path) == root and (root / "etc/kept").exists()
    (tmp_path / f"{AMPHORA}.stamp").write_text("0\n")  # an older build: made again
    image_root(AMPHORA, tmp_path)
    assert not (root / "etc/kept").exists()
    assert (tmp_path / f"{AMPHORA}.stamp").read_text().strip() == image.VERSION
