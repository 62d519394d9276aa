"""Command-line entry points: ``tricircle-lb`` (see :mod:`tricircle_lb.cli.main`)."""
