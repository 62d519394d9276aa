"""Identity's migration scripts, oldest first."""
