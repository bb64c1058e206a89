"""Team mode's shared hot state in Redis (issue #14): what several replicas must agree on at once.

- `link.py`: the one Redis connection of a replica, its health (ok / degraded) and the recovery hook.
- `spend.py`: spend counters per scope with check-and-reserve and settle (Lua), exact across replicas.
- `team_budgets.py`: the engine's budgets (`budgets:`, `clients[].monthly_budget_usd`) on those counters.
- `rate_limits.py`: requests and tokens per minute per scope, one fixed window in Redis (Lua).
- `cooldown_sync.py`: cooldowns set or cleared on one replica reach the others at once (pub/sub).
- `quota_sync.py`: quota readings taken on one replica are merged by the others (pub/sub and a hash).
- `refresh_lock.py`: one replica refreshes an OAuth login; the others wait and take its result.
- `event_fanout.py`: each replica's events published to the team; `tail --team` sees them all.
- `hot_state.py`: `TeamHotState`, the one object the engine holds (built from `team.redis`).
Without `team.redis` none of this is loaded and the engine works exactly as before.
"""
