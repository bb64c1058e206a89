"""Property-based fuzzing of every inbound route of the real engine (see conftest.py for the figures)."""
