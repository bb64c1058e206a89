"""Everything durable, behind one backend choice: SQLite (embedded default) or PostgreSQL (team mode).

- `backend.py` `Storage`: picked from the config (`team.postgres` set: PostgreSQL, else the ledger's
  SQLite file); holds the `Database` and one store per concern. A new concern (quota observations,
  recorder metadata) is a store class over `Storage.db` plus a numbered migration.
- `database.py` the `Database` interface (portable `?` SQL), `sqlite_database.py` and
  `postgres_database.py` its two backends; `migrations.py` the versioned schema of both.
- Stores: `ledger_store.py` (the interface `usage/ledger.py` writes through; SQLite's is in
  `usage/ledger.py`, PostgreSQL's in `postgres_ledger.py`), `member_keys.py`, `audit.py`. Cooldowns
  persist through `credentials/cooldowns.py` `CooldownTable` (`DatabaseCooldownTable` for PostgreSQL).
The interfaces here import no store user, so `usage/` and `credentials/` import them without a cycle.
"""
