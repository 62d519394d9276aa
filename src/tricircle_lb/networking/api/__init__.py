"""HTTP routes of the networking service (Neutron v2.0 and Tricircle's v1.0)."""
