# Mirrors the README's commands for those who have `just`.
run:
    pip install . && proxypal-tui

test:
    pip install -e '.[test]' && python -m pytest

lint:
    ruff check . && ruff format --check . && python -m pytest tests/test_import_contract.py

bench:
    python benchmarks/proxy_bench.py && python benchmarks/tui_feed.py

# team mode's cost per request (starts a real PostgreSQL and Redis)
bench-team:
    python benchmarks/team_bench.py

snap-update:
    python -m pytest tests/tui --snapshot-update
