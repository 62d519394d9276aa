"""The controller: the durable flows behind the API (Octavia's controller worker)."""
