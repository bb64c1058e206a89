"""`proxypal-engine doctor`: checks everything a user needs, and says how to fix each failure.

One module per check family: `config_check`, `secret_check`, `provider_probe` (each key's cheapest
authenticated call, through its provider kind), `credential_check` (states and cooldowns, from the
running engine's `/v0` or the ledger), `port_check`, `tool_check` (through `proxypal-tui tools check`),
`clock_check` (the providers' `Date` headers). `run.py` runs them, `render.py` prints the table or JSON.
"""
