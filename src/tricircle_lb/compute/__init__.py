"""Compute: a region's Nova (v2.1 subset) and Glance (v2 subset) in one service.

Servers are scheduled onto the region's hosts, their ports are created and
bound through the region's local networking, and each host's agent boots
them as namespaces and reports back (``/v2.1/os-host-agent``). Flavors and
images are fixed catalogues, as a fresh devstack has them.
"""
