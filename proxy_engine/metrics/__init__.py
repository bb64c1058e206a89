"""Prometheus metrics at `GET /metrics`: `registry.py` counts finished requests (off the request
path), `scrape.py` adds point-in-time gauges (cooldowns, quota, in flight) and serves the text."""
