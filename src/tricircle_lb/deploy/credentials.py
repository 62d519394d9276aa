"""Credentials for clients: ``tricircle-lb openrc`` and ``<state>/clouds.yaml``.

``openrc`` prints the classic ``export OS_...`` lines, and also points
openstacksdk at ``<state>/clouds.yaml`` with ``OS_CLOUD``. The second part is
what makes ``openstack --os-region-name CentralRegion …`` work: with only
``OS_*`` variables, openstacksdk builds a cloud whose sole valid region is
``$OS_REGION_NAME`` and refuses any other ``--os-region-name``; a cloud
from clouds.yaml lists every region of the deployment. There is one cloud
per project and region (``tricircle-lb-admin-RegionOne`` …), its region
listed first, so ``openstack.connect()`` also starts in the region asked for.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from tricircle_lb.deploy.services import (
    ADMIN_PROJECT,
    ADMIN_USER,
    DEMO_PROJECT,
    DEMO_USER,
    identity_url,
)
from tricircle_lb.deploy.state import Secrets, StatePaths
from tricircle_lb.deploy.topology import Topology

PROJECTS = (ADMIN_PROJECT, DEMO_PROJECT)


class CredentialsError(Exception):
    """No deployment yet, or an unknown project or region."""


def cloud_name(project: str, region: str) -> str:
    return f"tricircle-lb-{project}-{region}"


def _user(secrets: Secrets, project: str) -> tuple[str, str]:
    if project == ADMIN_PROJECT:
        return ADMIN_USER, secrets.admin_password
    if project == DEMO_PROJECT:
        return DEMO_USER, secrets.demo_password
    raise CredentialsError(f"unknown project {project!r} (admin or demo)")


def region_names(topology: Topology) -> list[str]:
    return [*topology.region_names, topology.central.region_name]


def clouds_yaml(topology: Topology, secrets: Secrets) -> str:
    """clouds.yaml (as JSON, which YAML readers accept) for every project and region."""
    regions = region_names(topology)
    clouds: dict[str, object] = {}
    for project in PROJECTS:
        user, password = _user(secrets, project)
        for region in regions:
            clouds[cloud_name(project, region)] = {
                "auth": {
                    "auth_url": identity_url(topology),
                    "username": user,
                    "password": password,
                    "project_name": project,
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "identity_api_version": "3",
                "interface": "public",
                "regions": [region, *(r for r in regions if r != region)],
            }
    return json.dumps({"clouds": clouds}, indent=2) + "\n"


def write_clouds_yaml(topology: Topology, secrets: Secrets) -> Path:
    path = StatePaths(topology.state_dir).root / "clouds.yaml"
    text = clouds_yaml(topology, secrets)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return path


def openrc(topology: Topology, project: str, region: str | None) -> str:
    """``export OS_...`` lines (values shell-quoted) for ``eval "$(tricircle-lb openrc)"``."""
    paths = StatePaths(topology.state_dir)
    secrets = Secrets.load(paths)
    if secrets is None:
        raise CredentialsError(f"no deployment in {paths.root} yet: run `tricircle-lb up` "
                               "(or pass --state-dir)")
    user, password = _user(secrets, project)
    names = region_names(topology)
    region = region or topology.regions[0].name
    if region not in names:
        raise CredentialsError(f"unknown region {region!r} (one of {', '.join(names)})")
    clouds = write_clouds_yaml(topology, secrets)
    values = {
        "OS_AUTH_URL": identity_url(topology),
        "OS_USERNAME": user,
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": project,
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": region,
        "OS_CLIENT_CONFIG_FILE": str(clouds),
        "OS_CLOUD": cloud_name(project, region),
    }
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
