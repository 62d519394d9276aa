"""Networking: the Neutron v2.0 API, as central networking or as a region's local networking.

One code base, two roles (``[networking] role``):

- *central* owns all networking state: segments, IPAM, MACs, security groups,
  and the routing table of which region mirrors what; it pushes changes to
  the regions with durable jobs.
- *local* mirrors central resources on demand with the same ids, and creates
  through central whatever a client creates in the region.
"""
