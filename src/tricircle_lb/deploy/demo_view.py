"""What the demo shows: steps with a spinner, live tables of who answered and of a failover.

Interactive (a terminal): spinners and tables that update as requests come
back. Otherwise (CI, a pipe, ``--non-interactive``): one line per finished
step and each table printed once, when complete.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from tricircle_lb.deploy.demo_traffic import Answer, Tally

MAX_ROWS = 30  # seconds shown in the failover table (the latest)


class DemoView:
    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self.live = live

    def _print(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[None]:
        """A step: a spinner while it runs, then ✓ with its duration (✗ and re-raise)."""
        start = time.monotonic()
        status = (self.console.status(escape(text)) if self.live
                  else contextlib.nullcontext())
        try:
            with status:
                yield
        except Exception as exc:
            self._print(f"[red]✗[/] {escape(text)}: [red]{escape(str(exc))}[/]")
            raise
        self._print(f"[green]✓[/] {escape(text)} [dim]({time.monotonic() - start:.1f}s)[/]")

    def note(self, text: str, style: str = "") -> None:
        self._print(f"[{style}]{escape(text)}[/]" if style else escape(text))

    @contextlib.contextmanager
    def showing(self, render: Callable[[], RenderableType]) -> Iterator[Callable[[], None]]:
        """Yield ``refresh``: live, each call redraws ``render()``; otherwise it is printed
        once at the end."""
        if not self.live:
            yield lambda: None
            self.console.print(render())
            return
        with Live(render(), console=self.console, refresh_per_second=8) as live:
            yield lambda: live.update(render())

    def next_steps(self, commands: list[str]) -> None:
        self._print("\n[bold]Try next:[/]")
        for command in commands:
            self._print(f"  {escape(command)}")


def answers_table(answers: list[Answer], regions: dict[str, str], vip: str) -> Table:
    """Per backend: its region and how many requests it answered (plus failures)."""
    table = Table(title=f"lb1: requests to the VIP {vip} from a probe on net1",
                  title_justify="left", min_width=60)
    for column in ("backend", "region", "answers", "last"):
        table.add_column(column)
    counts = Counter(a.body for a in answers if a.ok)
    last = answers[-1].body if answers else ""
    for backend, region in regions.items():
        table.add_row(backend, region, str(counts.get(backend, 0)),
                      "[bold green]◀[/]" if backend == last else "")
    failed = sum(1 for a in answers if not a.ok)
    others = sum(n for body, n in counts.items() if body not in regions)
    if failed or others:
        table.add_row("[red]failed[/]" if failed else "other", "-", str(failed or others), "")
    return table


def failover_table(tally: Tally, killed_at: float | None, vip: str) -> Table:
    """Requests per second around the moment the MASTER amphora was killed."""
    table = Table(title=f"lb2: requests per second to {vip} while its MASTER dies",
                  title_justify="left", min_width=60)
    for column in ("second", "answered", "failed", ""):
        table.add_column(column, justify="right")
    for second in sorted(tally.per_second)[-MAX_ROWS:]:
        ok, failed = tally.per_second[second]
        mark = ("[bold red]MASTER killed[/]" if killed_at is not None
                and int(killed_at) == second else "")
        table.add_row(str(second), f"[green]{ok}[/]", f"[red]{failed}[/]" if failed else "0",
                      mark)
    table.caption = (f"total: {tally.ok} answered, {tally.failed} failed, longest gap "
                     f"without an answer {tally.outage:.2f}s")
    return table
