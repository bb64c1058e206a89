"""Provider logins: OAuth PKCE and device-code flows, per-provider endpoints, token refresh, the login CLI.

Tokens are kept in `proxy_engine.secrets`; pools and cooldowns are in `proxy_engine.credentials`.
Entry points: `flows` (interactive logins), `refresher.TokenRefresher` (fresh access tokens in the
engine), `cli.add_login_subcommands(subparsers)` (`login`, `logout`, `auth ...`).
"""
