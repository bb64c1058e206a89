"""Team members: their keys, what each key may do, and the admin's view of them.

- `keys.py` making a key and reading `--expires`; `key_admin.py` create/list/revoke/rotate with
  an audit entry each (the CLI and `/v0/keys` share it).
- `directory.py` the live keys of this replica, by hash, refreshed from storage.
- `limits.py` a key's models, monthly budget, RPM and TPM; `access.py` puts both on the request path.
- `roles.py` admin and member on `/v0`; `admin_api.py` `/v0/keys` and `/v0/audit`; `usage.py`
  usage per member and per team; `cli.py` `proxypal-engine keys ...`.
"""
