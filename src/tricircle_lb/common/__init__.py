"""Pieces every service shares: configuration, logging, request ids, auth, HTTP."""
