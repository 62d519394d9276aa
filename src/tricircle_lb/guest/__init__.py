"""Guests: how an instance is confined on its host (decision 063).

The host agent's instance runtime (``agent/instances.py``) keeps the
lifecycle; this package builds what runs:

- :mod:`.launcher` (``python -m tricircle_lb.guest.launcher guest.json``): the
  namespaces, the root filesystem and the capabilities of one guest, then its
  PID 1;
- :mod:`.image`: the images' root filesystems (a small ``/etc``, the host's
  ``/usr`` read-only, BusyBox for the CirrOS tools);
- :mod:`.cgroups`: the flavor's memory, vCPUs and a pids limit.

Its modules import only the standard library, and this file none of them
(``python -m`` runs two of them): the launcher starts fast and small, once
per instance.
"""
