"""Token usage, prices, the SQLite ledger and rolling aggregates."""
