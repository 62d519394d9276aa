"""What ``up`` writes for the key manager (Barbican) and how it is started (no process)."""

from __future__ import annotations

import base64
import configparser
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests_support import private_default_topology
from tricircle_lb.deploy import bootstrap, key_manager
from tricircle_lb.deploy.services import (
    Kind,
    identity_url,
    key_manager_url,
    services,
    write_configs,
)
from tricircle_lb.deploy.state import Secrets, StatePaths
from tricircle_lb.deploy.topology import Topology


@pytest.fixture()
def topology(tmp_path: Path) -> Topology:
    topo = private_default_topology(tmp_path / "state")
    StatePaths(topo.state_dir).create()
    return topo


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_the_kek_is_a_fernet_key_kept_across_ups_and_added_to_older_state(
        topology: Topology) -> None:
    paths = StatePaths(topology.state_dir)
    paths.secrets.write_text("[secrets]\nadmin_password = a\nservice_password = s\n"
                             "demo_password = d\nheartbeat_key = k\n")
    older = Secrets.load(paths)
    assert older is not None and older.key_manager_kek == ""  # openrc still works
    made = Secrets.load_or_create(paths)
    assert (made.admin_password, made.heartbeat_key) == ("a", "k")  # kept
    assert len(base64.urlsafe_b64decode(made.key_manager_kek)) == 32
    Fernet(made.key_manager_kek.encode())  # what simple_crypto makes of it
    assert Secrets.load_or_create(paths) == made
    other = StatePaths(topology.state_dir.parent / "other")
    other.create()
    assert Secrets.load_or_create(other).key_manager_kek != made.key_manager_kek


def test_barbicans_configuration(topology: Topology) -> None:
    secrets = Secrets.load_or_create(StatePaths(topology.state_dir))
    write_configs(topology, secrets)
    svc = next(s for s in services(topology) if s.kind is Kind.KEY_MANAGER)
    assert (svc.name, svc.port, svc.region) == ("key-manager", 9311, None)
    ours = _read(svc.config_file)
    home = Path(ours["key_manager"]["home"])
    assert home == topology.state_dir / "key-manager"
    assert Path(ours["key_manager"]["venv"]) == key_manager.default_venv()
    conf = _read(home / "barbican.conf")
    for f in (home / "barbican.conf", home / "barbican-api-paste.ini", svc.config_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert conf["DEFAULT"]["host_href"] == key_manager_url(topology) == svc.url
    assert conf["database"]["connection"] == f"sqlite:///{topology.state_dir}/key-manager.db"
    assert conf["DEFAULT"]["db_auto_create"] == "True"
    assert conf["simple_crypto_plugin"]["kek"] == secrets.key_manager_kek
    assert conf["crypto"]["enabled_crypto_plugins"] == "simple_crypto"
    auth = conf["keystone_authtoken"]
    assert auth["auth_url"] == identity_url(topology)
    assert (auth["username"], auth["password"]) == ("tricircle-lb", secrets.service_password)
    assert conf["oslo_policy"]["enforce_new_defaults"] == "True"
    paste = _read(home / "barbican-api-paste.ini")
    assert "authtoken" in paste["pipeline:barbican_api"]["pipeline"].split()
    assert paste["composite:main"]["/v1"] == "barbican_api"
    # The load-balancer services are told where it is.
    lb = _read(topology.state_dir / "etc" / "loadbalancer-RegionTwo.ini")
    assert (lb["certificates"]["endpoint"], lb["certificates"]["region_name"]) == (
        svc.url, "RegionTwo")


def test_it_is_in_the_catalog_of_every_region(topology: Topology) -> None:
    entries = [e for e in bootstrap.catalog(topology, services(topology))
               if e.service_type == "key-manager"]
    assert [e.region for e in entries] == ["CentralRegion", "RegionOne", "RegionTwo"]
    assert {(e.service_name, e.url) for e in entries} == {("barbican",
                                                           key_manager_url(topology))}


def test_serve_runs_gunicorn_from_barbicans_venv(topology: Topology, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "venv"
    monkeypatch.setenv(key_manager.VENV_ENV, str(venv))
    monkeypatch.setenv("PYTHONPATH", "/somewhere/of/ours")
    write_configs(topology, Secrets.load_or_create(StatePaths(topology.state_dir)))
    config = topology.state_dir / "etc" / "key-manager.ini"
    with pytest.raises(key_manager.KeyManagerError, match="Barbican is not installed in"):
        key_manager.command(config)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "gunicorn").touch()
    argv, env = key_manager.command(config)
    home = topology.state_dir / "key-manager"
    assert argv[0] == str(venv / "bin" / "gunicorn")
    assert argv[argv.index("--paste") + 1] == str(home / "barbican-api-paste.ini")
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:9311"
    assert argv[argv.index("--workers") + 1] == "1"
    assert env["HOME"] == str(home)  # where oslo.config finds ~/barbican.conf
    assert "PYTHONPATH" not in env
    with pytest.raises(SystemExit, match="key-manager: Barbican is not installed"):
        monkeypatch.setenv(key_manager.VENV_ENV, str(tmp_path / "nowhere"))
        write_configs(topology, Secrets.load_or_create(StatePaths(topology.state_dir)))
        key_manager.exec_barbican(config)
