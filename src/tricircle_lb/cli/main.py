"""``tricircle-lb``: start, stop, inspect the embedded deployment; serve one service.

Thin on purpose: each command parses its options, calls
:mod:`tricircle_lb.deploy.launcher` and renders the answer with Rich.
"""

from __future__ import annotations

import json
import logging
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tricircle_lb.cli import status_view
from tricircle_lb.common import logs
from tricircle_lb.deploy import bootstrap, launcher
from tricircle_lb.deploy.launcher import Deployment, LauncherError
from tricircle_lb.deploy.services import Kind
from tricircle_lb.deploy.state import read_json
from tricircle_lb.deploy.supervisor import SUPERVISOR
from tricircle_lb.deploy.topology import CONFIG_ENV, STATE_DIR_ENV

app = typer.Typer(
    name="tricircle-lb",
    help="Tricircle LB: distributed load balancing across OpenStack regions, embedded "
         "on one machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", envvar=CONFIG_ENV, dir_okay=False,
    help="Topology file (INI). Default: the one the state directory was started with, "
         "else the packaged default.")]
StateDirOpt = Annotated[Path | None, typer.Option(
    "--state-dir", envvar=STATE_DIR_ENV, file_okay=False,
    help="State directory (databases, logs, secrets). Default: state_dir of the topology, "
         "/var/lib/tricircle-lb.")]


class Project(StrEnum):
    admin = "admin"
    demo = "demo"


def _open(config: Path | None, state_dir: Path | None) -> Deployment:
    try:
        return Deployment.open(config, state_dir)
    except LauncherError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _bullets(lines: list[str]) -> None:
    for line in lines:
        out.print(f"• {escape(line)}", highlight=False, soft_wrap=True)


def _progress(message: str) -> None:
    err.print(f"[dim]•[/] {escape(message)}", highlight=False, soft_wrap=True)


def _endpoints(dep: Deployment) -> None:
    table = Table(title="Endpoints", title_justify="left")
    table.add_column("service")
    table.add_column("region")
    table.add_column("URL", style="cyan")
    for service, region, url in dep.endpoints():
        table.add_row(service, region, url)
    out.print(table)
    state = f" --state-dir {dep.paths.root}" if dep.paths.root != Path(
        "/var/lib/tricircle-lb") else ""
    out.print(f"Credentials: [bold]eval \"$(tricircle-lb openrc{state})\"[/]  "
              f"(demo user: [bold]tricircle-lb openrc{state} --project demo[/])",
              highlight=False, soft_wrap=True)
    out.print("Then e.g.: openstack --os-region-name CentralRegion network list",
              highlight=False, soft_wrap=True)


@app.command()
def up(
    detach: Annotated[bool, typer.Option(
        "--detach", "-d", help="Run in the background; return once every service is "
                               "healthy and bootstrapped.")] = False,
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Start identity, central networking and every region (idempotent: on a running
    deployment, repair a damaged data plane)."""
    dep = _open(config, state_dir)
    pid = dep.supervisor_pid()
    if pid is not None:
        try:
            repaired = launcher.repair(dep, _progress)
        except LauncherError as exc:
            _fail(str(exc))
        _bullets(repaired)
        out.print(f"[green]already running[/] (supervisor pid {pid}, state "
                  f"{dep.paths.root}); {'data plane repaired' if repaired else 'nothing changed'}",
                  highlight=False, soft_wrap=True)
        _endpoints(dep)
        return
    try:
        if detach:
            launcher.up_detached(dep, _progress)
            out.print(f"[green]ready[/] (state {dep.paths.root}; stop with "
                      "`tricircle-lb down`)", highlight=False, soft_wrap=True)
            _endpoints(dep)
            return
        logs.setup(SUPERVISOR, dep.paths.log_file(SUPERVISOR))

        def ready() -> None:
            out.print("[green]ready[/]; Ctrl-C stops everything")
            _endpoints(dep)

        code = launcher.up_foreground(dep, _progress, ready)
    except LauncherError as exc:
        _fail(str(exc))
    if code:
        state = read_json(dep.paths.supervisor_state) or {}
        _fail(f"{state.get('error', 'the deployment failed')}\nlogs: {dep.paths.log}")


@app.command()
def down(
    purge: Annotated[bool, typer.Option(
        "--purge", help="Also delete the state directory (databases, logs, secrets).")] = False,
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Stop everything `up` started (safe to run twice)."""
    dep = _open(config, state_dir)
    try:
        done = launcher.down(dep, purge)
    except LauncherError as exc:
        _fail(str(exc))
    _bullets(done)
    if not done:
        out.print(f"nothing running in {dep.paths.root}", highlight=False, soft_wrap=True)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Each service (up/down, URL, pid) and what each region holds."""
    dep = _open(config, state_dir)
    st = launcher.status(dep)
    if as_json:
        print(json.dumps(status_view.as_json(st), indent=2))
        return
    status_view.render(out, st)


@app.command()
def demo(
    cleanup: Annotated[bool, typer.Option(
        "--cleanup", help="Remove everything the demo created (safe to run twice).")] = False,
    non_interactive: Annotated[bool, typer.Option(
        "--non-interactive", help="No live display (the default when stdout is not a "
                                  "terminal).")] = False,
    count: Annotated[int, typer.Option(
        "--requests", min=1, help="Requests sent to lb1's VIP.")] = 8,
    failover_seconds: Annotated[float, typer.Option(
        "--failover-seconds", min=5.0, help="How long traffic flows to lb2 while its "
                                            "MASTER amphora is killed.")] = 15.0,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the result as JSON on stdout (the display goes to "
                       "stderr).")] = False,
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """The spec's scenario end to end: two networks, four backends in two regions, lb1
    balancing across them, then an ACTIVE_STANDBY failover under traffic."""
    from tricircle_lb.deploy import demo as scenario
    from tricircle_lb.deploy.demo_api import DemoError
    from tricircle_lb.deploy.demo_view import DemoView

    dep = _open(config, state_dir)
    if dep.supervisor_pid() is None:
        _fail(f"no deployment running in {dep.paths.root}: run `tricircle-lb up --detach`")
    try:
        if cleanup:
            done = scenario.cleanup(dep)
            _bullets(done)
            if not done:
                out.print("nothing to remove", highlight=False)
            return
        console = err if as_json else out
        view = DemoView(console, live=console.is_terminal and not non_interactive)
        result = scenario.run(dep, view, count, failover_seconds)
    except (DemoError, LauncherError, bootstrap.BootstrapError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
    if not result.ok:
        _fail(result.error or "not every backend answered through lb1")


@app.command()
def openrc(
    project: Annotated[Project, typer.Option(help="Whose credentials.")] = Project.admin,
    region: Annotated[str | None, typer.Option(
        help="OS_REGION_NAME (default: the first region, RegionOne).")] = None,
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Print `export OS_...` lines: eval "$(tricircle-lb openrc)"."""
    dep = _open(config, state_dir)
    try:
        print(launcher.openrc(dep, project.value, region), end="")
    except LauncherError as exc:
        _fail(str(exc))


@app.command()
def serve(
    kind: Annotated[Kind, typer.Argument(help="Which service.")],
    config_file: Annotated[Path, typer.Option(
        "--config-file", exists=True, dir_okay=False, help="The service's INI file.")],
) -> None:
    """Run one service in the foreground (what the supervisor starts)."""
    from tricircle_lb.deploy.serve import serve as run

    run(kind, config_file)


@app.command(name="exec", context_settings={"allow_extra_args": True,
                                             "ignore_unknown_options": True})
def exec_(
    ctx: typer.Context,
    region: Annotated[str, typer.Option("--region", help="Region of the server or probe.")],
    server: Annotated[str | None, typer.Option(
        "--server", help="Run inside this instance (name or id).")] = None,
    network: Annotated[str | None, typer.Option(
        "--network", help="Run in a probe namespace with its own port on this network "
                          "(name or id), like `ip netns exec dhcp-<net>`.")] = None,
    keep_probe: Annotated[bool, typer.Option(
        "--keep-probe", help="Keep the probe's port and namespace for the next exec.")] = False,
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Run a command in an instance or on a network: exec --region R --server S -- CMD…"""
    from tricircle_lb.deploy import probe

    command = list(ctx.args)
    if not command or (server is None) == (network is None):
        _fail("give exactly one of --server or --network, then -- and a command")
    dep = _open(config, state_dir)
    secrets = dep.secrets()
    if secrets is None:
        _fail(f"no deployment in {dep.paths.root}: run `tricircle-lb up` first")
    try:
        if server is not None:
            line = probe.server_command(dep.topology, secrets, region, server, command)
            raise typer.Exit(subprocess.call(line))
        assert network is not None
        with probe.probe(dep.topology, secrets, region, network, keep=keep_probe) as p:
            code = probe.run_in_namespace(p.namespace, command)
        raise typer.Exit(code)
    except (probe.ExecError, LauncherError) as exc:
        _fail(str(exc))


@app.command(hidden=True)
def supervise(config: ConfigOpt = None, state_dir: StateDirOpt = None) -> None:
    """The detached supervisor (started by `up --detach`)."""
    dep = _open(config, state_dir)
    logs.setup(SUPERVISOR, dep.paths.log_file(SUPERVISOR))
    logging.getLogger(__name__).info("supervisor starting in %s", dep.paths.root)
    try:
        code = launcher.supervise(dep)
    except LauncherError as exc:
        _fail(str(exc))
    raise typer.Exit(code)


if __name__ == "__main__":  # pragma: no cover
    app()
