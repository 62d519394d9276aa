"""``python -m tricircle_lb.cli``: the same CLI, used by the supervisor to start services."""

from tricircle_lb.cli.main import app

app(prog_name="tricircle-lb")
