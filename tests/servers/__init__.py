"""Real PostgreSQL and Redis servers for tests: started on loopback in a temp dir, stopped by PID.

`fixtures.py` holds the pytest fixtures (registered for the whole suite by `tests/conftest.py`);
`postgres.py` and `redis.py` are the servers, which a fault test can stop and start mid-test.
"""
