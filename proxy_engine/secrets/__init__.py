"""Secret storage: the OS keyring or an encrypted file, and `keyring:`/`env:` references.

`store.open_secret_store()` picks the store; `refs.resolve_secret_ref()` turns a config
reference into its value. Logins keep their tokens here but live in `proxy_engine.logins`.
"""
