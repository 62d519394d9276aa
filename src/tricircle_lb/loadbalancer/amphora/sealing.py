"""PEM text sealed for one amphora on its way over the management network (decision 085).

The agent API is signed, not encrypted (decision 070), and a configuration now
carries private keys. Each PEM is sealed with AES-256-GCM under a key derived
(HKDF-SHA256) from the amphora's own agent key (decision 076), with the file
name as associated data: only that amphora can read it, and a sealed text
cannot be moved to another file name. ``sealed:v1:<base64(nonce | ciphertext)>``.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig, PemFile

PREFIX = "sealed:v1:"
_INFO = b"tricircle-lb amphora certificate files v1"


class SealError(ValueError):
    """Not sealed with this amphora's key (or altered); never holds the text."""


def _aead(key: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
                  .derive(key))


def seal(key: bytes, name: str, pem: str) -> str:
    nonce = os.urandom(12)
    sealed = _aead(key).encrypt(nonce, pem.encode(), name.encode())
    return PREFIX + base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, name: str, text: str) -> str:
    if not text.startswith(PREFIX):
        raise SealError(f"certificates[{name}]: not sealed")
    try:
        raw = base64.b64decode(text[len(PREFIX):], validate=True)
        return _aead(key).decrypt(raw[:12], raw[12:], name.encode()).decode()
    except (binascii.Error, InvalidTag, ValueError):
        raise SealError(f"certificates[{name}]: not sealed with this amphora's key") from None


def seal_config(key: bytes, config: LoadBalancerConfig) -> LoadBalancerConfig:
    """``config`` with every PEM text sealed for the amphora holding ``key``."""
    return replace(config, certificates=tuple(
        f if f.pem is None else PemFile(f.name, seal(key, f.name, f.pem))
        for f in config.certificates))


def unseal_config(key: bytes, config: LoadBalancerConfig) -> LoadBalancerConfig:
    """The agent's side of :func:`seal_config`; raises :class:`SealError`."""
    return replace(config, certificates=tuple(
        f if f.pem is None else PemFile(f.name, unseal(key, f.name, f.pem))
        for f in config.certificates))
