"""The amphora's certificate files: written 0600, replaced atomically, pruned.

The directory (``<state dir>/certs``, 0700) holds what the HAProxy
configuration names (:mod:`..tls_config`): ``<name>.pem`` per
:class:`~..model.PemFile` and ``<listener id>.crtlist`` per TLS listener. A
PemFile without ``pem`` is kept as it is (the controller could not fetch its
secret again, decision 085); if it is not here the configuration is refused.

Nothing here logs or raises PEM text: messages name files only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig
from tricircle_lb.loadbalancer.amphora.render_checks import ConfigRenderError, ident
from tricircle_lb.loadbalancer.amphora.tls_config import crt_lists

MAX_PEM = 512 * 1024  # a long chain with its key, or a large CRL


class CertificateRefused(ValueError):
    """A certificate file cannot be installed; the message names the file, never its text."""


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, readable by its owner only."""
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class CertificateStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _wanted(self, config: LoadBalancerConfig) -> dict[str, bytes | None]:
        """``{file name: content}``; None: keep the file the amphora has."""
        files: dict[str, bytes | None] = {}
        for i, pem_file in enumerate(config.certificates):
            try:
                name = ident(pem_file.name, f"certificates[{i}].name")
            except ConfigRenderError as exc:
                raise CertificateRefused(str(exc)) from None
            if pem_file.pem is None:
                files[f"{name}.pem"] = None
                continue
            data = pem_file.pem.encode()
            if len(data) > MAX_PEM or b"-----BEGIN " not in data or b"\0" in data:
                raise CertificateRefused(f"certificates[{name}]: not a PEM file of at most "
                                         f"{MAX_PEM} bytes")
            files[f"{name}.pem"] = data if data.endswith(b"\n") else data + b"\n"
        try:
            lists = crt_lists(config, self.directory)
        except ConfigRenderError as exc:
            raise CertificateRefused(str(exc)) from None
        files.update({name: text.encode() for name, text in lists.items()})
        return files

    def install(self, config: LoadBalancerConfig) -> None:
        """Write every file ``config`` needs (before ``haproxy -c`` reads them)."""
        files = self._wanted(config)
        if not files:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        for name, data in files.items():
            path = self.directory / name
            if data is None:
                if not path.is_file():
                    raise CertificateRefused(
                        f"certificate file {name} is not on this amphora and the controller "
                        "could not load its secret")
                continue
            _write(path, data)

    def prune(self, config: LoadBalancerConfig) -> None:
        """Remove the files ``config`` no longer names (a deleted listener's)."""
        if not self.directory.is_dir():
            return
        keep = set(self._wanted(config))
        for path in self.directory.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
