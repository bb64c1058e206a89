"""Team-mode tests run against the real PostgreSQL and Redis of `tests/servers/` (skipped without them)."""
