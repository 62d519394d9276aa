"""The fixed catalogues of a fresh region: Nova's default flavors, two Glance images.

Flavors are those a fresh devstack has (ids 1-4 and 42). Images have stable
ids per region (uuid5 of region and name), so every service of a region and
every test can name them; the amphora image carries the ``amphora`` tag the
load-balancer service looks for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

IMAGE_NAMESPACE = uuid.UUID("5f0e4c1e-7c39-4b8e-9a0c-7d1f3e1a9b42")
CREATED = "2026-11-25T00:00:00Z"


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    ram: int
    vcpus: int
    disk: int


FLAVORS: tuple[Flavor, ...] = (
    Flavor("1", "m1.tiny", 512, 1, 1),
    Flavor("2", "m1.small", 2048, 1, 20),
    Flavor("3", "m1.medium", 4096, 2, 40),
    Flavor("4", "m1.large", 8192, 4, 80),
    Flavor("42", "m1.nano", 128, 1, 1),
)


def find_flavor(ref: str) -> Flavor | None:
    """By id, or by the id at the end of a flavor link (``…/flavors/1``)."""
    key = ref.rstrip("/").rsplit("/", 1)[-1]
    return next((f for f in FLAVORS if f.id == key), None)


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    size: int
    tags: tuple[str, ...] = ()
    min_disk: int = 0
    min_ram: int = 0
    properties: dict[str, str] = field(default_factory=dict)
    checksum: str = ""


def images(region: str) -> list[Image]:
    def image_id(name: str) -> str:
        return str(uuid.uuid5(IMAGE_NAMESPACE, f"{region}/{name}"))

    return [
        Image(image_id("cirros"), "cirros", 21_430_272,
              properties={"hw_rng_model": "virtio", "os_distro": "cirros"},
              checksum="c8fc807773e5354afe61636071771906"),
        Image(image_id("amphora-x64-haproxy"), "amphora-x64-haproxy", 356_122_624,
              tags=("amphora",), min_disk=2,
              properties={"hw_architecture": "x86_64", "os_distro": "ubuntu"},
              checksum="0ba3bd63e2b1f7a3c7b8a4d15b1a0c2e"),
    ]


def find_image(region: str, ref: str) -> Image | None:
    key = ref.rstrip("/").rsplit("/", 1)[-1]
    return next((i for i in images(region) if i.id == key), None)


def image_id_of(region: str, name: str) -> str:
    """The stable id of a catalogue image in ``region`` (for other services and tests)."""
    return str(uuid.uuid5(IMAGE_NAMESPACE, f"{region}/{name}"))
