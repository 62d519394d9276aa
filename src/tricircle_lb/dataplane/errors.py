"""Errors of the data plane layer.

Every failure of a netlink call that is neither tolerated (an object that
already exists on ``add``, one that is already gone on ``delete``) nor
transient after retries surfaces as one of these::

    DataplaneError
    ├── NamespaceNotFound   the named network namespace does not exist
    ├── LinkNotFound        a device the call needs (master, parent, peer) is missing
    ├── InvalidName         a name the kernel would refuse (length, characters)
    ├── Unsupported         the kernel lacks the feature (e.g. 802.1Q VLAN devices)
    └── NetlinkFailure      the kernel refused the request (``errno`` attached)
"""

from __future__ import annotations


class DataplaneError(Exception):
    """Root of the data plane's errors."""


class NamespaceNotFound(DataplaneError):
    def __init__(self, namespace: str) -> None:
        super().__init__(f"network namespace {namespace!r} does not exist")
        self.namespace = namespace


class LinkNotFound(DataplaneError):
    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(f"no device {name!r} in namespace {namespace or '(own)'!r}")
        self.namespace = namespace
        self.name = name


class InvalidName(DataplaneError):
    """A namespace or device name the kernel would refuse."""


class Unsupported(DataplaneError):
    """The running kernel cannot do this (built without the feature)."""


class NetlinkFailure(DataplaneError):
    def __init__(self, operation: str, errno: int, message: str) -> None:
        super().__init__(f"{operation}: [errno {errno}] {message}")
        self.operation = operation
        self.errno = errno
