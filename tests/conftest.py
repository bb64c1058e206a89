"""Suite-wide fixtures: the real PostgreSQL and Redis servers of `tests/servers/`."""

from tests.servers.fixtures import (  # noqa: F401  (fixtures are found by name)
    postgres_factory,
    postgres_server,
    postgres_url,
    redis_factory,
    redis_server,
    redis_url,
)
