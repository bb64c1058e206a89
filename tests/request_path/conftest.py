"""The request-path tests drive the same module-scoped engine and fake upstreams as tests/engine."""

from tests.engine.conftest import _reset_fakes, engine, fakes  # noqa: F401 (fixtures)
