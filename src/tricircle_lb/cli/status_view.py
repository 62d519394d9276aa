"""``tricircle-lb status`` rendered for an 80-column terminal, and as JSON.

Every table fits 80 columns without cutting a value: long values (ids, URLs)
are left to ``--json``, host names lose their region prefix inside a region's
rows, and free text wraps instead of ending in an ellipsis.
"""

from __future__ import annotations

import dataclasses

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tricircle_lb.deploy import launcher

OK = "[green]✓[/]"
BAD = "[red]✗[/]"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)


def render(console: Console, st: launcher.Status) -> None:
    sup = (f"[green]running[/] (pid {st.supervisor_pid}, {st.phase})" if st.running
           else "[red]not running[/]")
    console.print(f"Deployment in {escape(str(st.state_dir))}: supervisor {sup}",
                  highlight=False, soft_wrap=False)
    services = _table("Services", "service", "status", "address", "pid")
    for s in st.services:
        svc = s.service
        services.add_row(svc.name, "[green]up[/]" if s.healthy else "[red]down[/]",
                         f"{svc.host}:{svc.port}" if svc.has_api else "-",
                         str(s.pid) if s.pid else "-")
    console.print(services)
    if st.holdings:
        _regions(console, st)
        _hosts(console, st)
        _amphorae(console, st)
        _stretched(console, st)


def _regions(console: Console, st: launcher.Status) -> None:
    table = _table("Regions (as admin)", "region", "agents", "servers", "networks",
                   "subnets", "ports", "shadow ports", "note")
    for h in st.holdings:
        table.add_row(h.region, h.agents, _n(h.servers), _n(h.networks), _n(h.subnets),
                      _n(h.ports), _n(h.shadow_ports), escape(h.error))
    console.print(table)


def _host_note(h: launcher.HostStatus) -> str:
    notes = []
    if not h.agent_alive:
        notes.append("agent not reporting")
    if not h.namespace:
        notes.append("namespace missing")
    if h.underlay_reachable is False:
        notes.append("underlay unreachable")
    if h.error:
        notes.append(h.error)
    if h.repair:
        ago = f" {h.repaired_ago}s ago" if h.repaired_ago is not None else ""
        notes.append(f"{h.repair}{ago}")
    return "; ".join(notes)


def _hosts(console: Console, st: launcher.Status) -> None:
    rows = [(h.region, host) for h in st.holdings for host in h.hosts]
    if not rows:
        return
    table = _table("Hosts (data plane as each agent last saw it)", "region", "host",
                   "agent", "netns", "underlay", "note")
    for region, host in rows:
        underlay = "-" if host.underlay_reachable is None else (
            OK if host.underlay_reachable else BAD)
        table.add_row(region, escape(host.host.removeprefix(region + "-")),
                      OK if host.agent_alive else BAD, OK if host.namespace else BAD,
                      underlay, escape(_host_note(host)))
    console.print(table)


def _amphorae(console: Console, st: launcher.Status) -> None:
    rows = [(h.region, a) for h in st.holdings for a in h.amphorae]
    if not rows:
        return
    table = _table("Amphorae (ids shortened; --json has them whole)", "amphora", "lb",
                   "role", "status", "host", "mgmt IP")
    for region, a in rows:
        table.add_row(a.id[:8], a.loadbalancer_id[:8] or "-", a.role or "-", a.status,
                      a.host.removeprefix(region + "-") or "-", a.lb_network_ip or "-")
    console.print(table)


def _stretched(console: Console, st: launcher.Status) -> None:
    if not st.stretched:
        return
    table = _table("Stretched networks (bound ports in several regions)", "network",
                   "regions", "shadow ports")
    for net in st.stretched:
        table.add_row(escape(net.name or net.id[:8]), ", ".join(net.regions),
                      ", ".join(f"{r}: {c}" for r, c in net.shadow_ports.items()))
    console.print(table)


def as_json(st: launcher.Status) -> dict[str, object]:
    return {
        "state_dir": str(st.state_dir),
        "supervisor_pid": st.supervisor_pid,
        "phase": st.phase,
        "services": [{"name": s.service.name, "region": s.service.region,
                      "url": s.service.url, "pid": s.pid,
                      "status": "up" if s.healthy else "down"} for s in st.services],
        "regions": [{"region": h.region, "networks": h.networks, "subnets": h.subnets,
                     "ports": h.ports, "shadow_ports": h.shadow_ports,
                     "servers": h.servers, "agents_alive": h.agents, "error": h.error,
                     "hosts": [{"host": host.host, "agent_alive": host.agent_alive,
                                "data_plane": {
                                    "ok": host.data_plane_ok,
                                    "namespace": host.namespace,
                                    "underlay_reachable": host.underlay_reachable,
                                    "last_error": host.error,
                                    "last_repair": host.repair,
                                    "repaired_ago": host.repaired_ago}}
                               for host in h.hosts],
                     "amphorae": [dataclasses.asdict(a) for a in h.amphorae],
                     "stretched_networks": [
                         {"id": n.id, "name": n.name, "shadow_ports": n.shadow_ports[h.region]}
                         for n in st.stretched if h.region in n.shadow_ports]}
                    for h in st.holdings],
        "stretched_networks": [dataclasses.asdict(n) for n in st.stretched],
    }
