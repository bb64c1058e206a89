"""`proxypal-engine login | logout | auth ...`: log in once per provider from a terminal.

Mount with `add_login_subcommands(subparsers)`; every parser sets `handler`, a function of
the parsed args returning the exit code. Secrets never travel in argv (keys come from stdin
or a masked prompt) and are never printed.

`login --json` / `logout --json` talk to a program instead of a person (the TUI runs them as
subprocesses): one JSON object per line on stdout (`authorize_url`, `device_code`, `status`,
`store`, `engine`, then `done` or `error`), never a prompt on the terminal. After a change the
CLI tells a running engine (best effort) so it picks up the new login or key at once.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
import webbrowser
from pathlib import Path

import httpx

from proxy_engine.config import API_KEY_KINDS, ConfigError, load_config
from proxy_engine.credentials.cooldowns import CooldownStore
from proxy_engine.logins.console import ConsoleLoginUI, JsonLoginUI, emit_json, has_terminal
from proxy_engine.logins.endpoints import OAUTH_PROVIDERS
from proxy_engine.logins.errors import AuthError
from proxy_engine.logins.flows import browser_login, codex_device_login, device_login
from proxy_engine.logins.providers import VertexAuth, provider_auth
from proxy_engine.logins.refresher import TokenRefresher
from proxy_engine.logins.tokens import (
    DEFAULT_LEAD_SECONDS,
    OAUTH_PREFIX,
    delete_tokens,
    list_token_ids,
    load_tokens,
    save_tokens,
)
from proxy_engine.paths import resolve_paths
from proxy_engine.secrets.encrypted_file import EncryptedFileStore
from proxy_engine.secrets.store import SecretStore, SecretStoreError, open_secret_store
from proxy_engine.storage.backend import configured_storage


def add_login_subcommands(subparsers: argparse._SubParsersAction) -> None:
    login = subparsers.add_parser(
        "login",
        help="log in to a provider (OAuth, device code, service account) or store its API key",
        description=f"OAuth logins: {', '.join(OAUTH_PROVIDERS)}. Any other name stores an API key "
        f"(for example {', '.join(API_KEY_KINDS)}, or your openai_compatible provider's name).",
    )
    login.add_argument("provider")
    login.add_argument("--api-key-stdin", action="store_true", help="read an API key from stdin")
    login.add_argument("--no-browser", action="store_true", help="print the URL and paste the redirect back")
    login.add_argument("--device", action="store_true", help="use the device-code flow (codex)")
    login.add_argument("--label", default="", help="name this login (default: the account's email/login)")
    login.add_argument("--name", default="", help="keyring name for an API key (default: PROVIDER)")
    login.add_argument("--service-account", metavar="FILE", help="vertex: service-account key file, '-' = stdin")
    login.add_argument("--project", help="gemini-cli: Google Cloud project for Code Assist")
    login.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    login.add_argument("--json", action="store_true", help="JSON lines on stdout for a UI; never prompt")
    login.set_defaults(handler=cmd_login)

    logout = subparsers.add_parser("logout", help="forget a provider's logins or API key")
    logout.add_argument("provider")
    logout.add_argument("--label", default="", help="only this login (credential id)")
    logout.add_argument("--api-key", action="store_true", help="only the API key keyring:PROVIDER, no logins")
    logout.add_argument("--json", action="store_true", help="JSON lines on stdout for a UI; never prompt")
    logout.set_defaults(handler=cmd_logout)

    auth = subparsers.add_parser("auth", help="credential status, cooldowns and the secret store")
    sub = auth.add_subparsers(dest="auth_command", required=True)
    status = sub.add_parser("status", help="list logins and keys; exit 1 if any login is in error")
    status.add_argument("--json", action="store_true")
    status.add_argument("--refresh", action="store_true", help="try to refresh expiring or failed logins now")
    status.set_defaults(handler=cmd_auth_status)
    cool = sub.add_parser("cooldowns", help="list (or --clear) credential cooldowns")
    cool.add_argument("--clear", action="store_true")
    cool.add_argument("--provider")
    cool.add_argument("--credential")
    cool.add_argument("--model")
    cool.add_argument("--json", action="store_true")
    cool.set_defaults(handler=cmd_auth_cooldowns)
    keyfile = sub.add_parser("keyfile", help="encrypted-file store: use a 0600 key file instead of a passphrase")
    keyfile.set_defaults(handler=cmd_auth_keyfile)


# -- helpers ----------------------------------------------------------------------------------


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _say(args: argparse.Namespace, kind: str, text: str, **fields: object) -> None:
    """One thing to tell the user: a plain line, or with --json one JSON object of type `kind`."""
    if _json(args):
        emit_json(sys.stdout, kind, **fields)
    elif text:
        print(text, flush=True)


def _fail(args: argparse.Namespace, message: str) -> None:
    if _json(args):
        emit_json(sys.stdout, "error", message=message)
    else:
        _err(message)


def _prompt_passphrase() -> str:
    if not has_terminal():
        return ""
    directory = resolve_paths().data_dir / "secrets"
    first = getpass.getpass("Passphrase for the ProxyPal secrets file: ")
    if first and not EncryptedFileStore.exists(directory) and getpass.getpass("Repeat the passphrase: ") != first:
        raise SecretStoreError("the passphrases did not match")
    return first


def _open_store(interactive: bool = True) -> SecretStore:
    # A UI running us (--json) owns the terminal: the passphrase can only come from PROXYPAL_PASSPHRASE.
    return open_secret_store(passphrase=_prompt_passphrase if interactive else lambda: "")


def _store_line(store: SecretStore) -> str:
    line = f"Secrets: {store.describe()}"
    return f"{line}\nNotice: {store.notice}" if store.notice else line


def _say_store(args: argparse.Namespace, store: SecretStore) -> None:
    _say(args, "store", _store_line(store), backend=store.describe(), notice=store.notice or None)


def notify_engine(config: Path | None, keys_changed: bool) -> str | None:
    """Tell a running engine to re-read stored logins (and, for API keys, its config's key references).

    Best effort: the address comes from the config, the key from the management key file; no
    engine, no key file or an unreadable config just mean there is nobody to tell (None).
    """
    paths = resolve_paths(config)
    try:
        key = paths.management_key_file.read_text(encoding="utf-8").strip()
        cfg = load_config(paths.config_file).config
    except (OSError, ConfigError):
        return None
    if not key:
        return None
    host = "127.0.0.1" if cfg.host in ("0.0.0.0", "", "*") else ("::1" if cfg.host == "::" else cfg.host)
    base = f"http://[{host}]:{cfg.port}" if ":" in host else f"http://{host}:{cfg.port}"
    headers = {"Authorization": f"Bearer {key}"}
    calls = ["/v0/auth/reload"] + (["/v0/config/reload"] if keys_changed else [])
    try:
        # trust_env=False: a loopback call never goes through HTTP(S)_PROXY, which would get the management key.
        with httpx.Client(timeout=httpx.Timeout(3.0, connect=1.0), follow_redirects=False, trust_env=False) as client:
            answers = [client.post(base + path, headers=headers) for path in calls]
    except httpx.HTTPError:
        return None
    if all(_took_it(a) for a in answers):
        return f"The running engine at {host}:{cfg.port} picked up the change."
    codes = ", ".join(str(a.status_code) for a in answers)
    return f"The engine at {host}:{cfg.port} did not take the change (HTTP {codes}); restart it to be sure."


def _took_it(answer: httpx.Response) -> bool:
    """Only the engine's own `{"ok": true}` counts; any other 200 (a proxy, a stranger on the port) does not."""
    try:
        return answer.status_code == 200 and answer.json().get("ok") is True
    except (ValueError, AttributeError):
        return False


def _tell_engine(args: argparse.Namespace, keys_changed: bool) -> None:
    message = notify_engine(getattr(args, "config", None), keys_changed)
    if message:
        _say(args, "engine", message, message=message)


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0), follow_redirects=False)


# -- login / logout -----------------------------------------------------------------------------


def _read_api_key(args: argparse.Namespace) -> str:
    if args.api_key_stdin:
        return sys.stdin.read().strip()
    if _json(args):
        raise AuthError("with --json the API key must come on stdin: add --api-key-stdin")
    if not has_terminal():
        raise AuthError("no terminal to prompt on: pipe the key in with --api-key-stdin")
    return getpass.getpass(f"API key for {args.provider} (input hidden): ").strip()


def _login_api_key(args: argparse.Namespace) -> int:
    key = _read_api_key(args)
    if not key:
        raise AuthError("the API key is empty")
    if any(c.isspace() for c in key):
        raise AuthError("the API key contains whitespace; paste only the key")
    name = args.name or args.provider
    store = _open_store(not _json(args))
    store.set(name, key)
    _say_store(args, store)
    ref = f"keyring:{name}"
    _say(args, "status", f"Stored the API key for {args.provider} as {ref}.", message=f"stored as {ref}")
    _tell_engine(args, keys_changed=True)
    _say(
        args,
        "done",
        f"Reference it in config.yaml as:  api_key: {ref}",
        provider=args.provider,
        credential=ref,
        account=None,
        ref=ref,
    )
    return 0


async def _login_oauth(args: argparse.Namespace, store: SecretStore) -> int:
    provider = provider_auth(args.provider)
    ui = JsonLoginUI() if _json(args) else ConsoleLoginUI()
    # With --json the UI offers to open the browser itself (it knows whether one is there).
    opener = None if _json(args) else webbrowser.open
    async with _http() as http:
        if isinstance(provider, VertexAuth):
            if not args.service_account:
                raise AuthError("vertex needs --service-account FILE (or '-' to read the key from stdin)")
            if args.service_account == "-":
                text = sys.stdin.read()
            else:
                text = await asyncio.to_thread(Path(args.service_account).read_text)
            tokens = await provider.login_service_account(http, text, label=args.label)
        elif args.device and "device" not in provider.flows:
            raise AuthError(f"{args.provider} has no device-code login; use --no-browser to paste the redirect URL")
        elif provider.own_device_flow and args.device:
            tokens = await codex_device_login(provider, ui, http=http, label=args.label)
        elif "browser" in provider.flows:
            tokens = await asyncio.wait_for(
                browser_login(
                    provider,
                    ui,
                    http=http,
                    no_browser=args.no_browser,
                    open_browser=opener,
                    wait_seconds=args.timeout,
                    label=args.label,
                    project=args.project,
                ),
                args.timeout + 120,
            )
        else:
            tokens = await device_login(provider, ui, http=http, pkce=provider.device_pkce, label=args.label)
    await asyncio.to_thread(save_tokens, store, tokens)
    _say_store(args, store)
    project = tokens.extra.get("project_id") or None
    await asyncio.to_thread(_tell_engine, args, False)
    text = f"Logged in to {args.provider} as {tokens.account} (credential {tokens.credential})."
    if project:
        text += f"\nProject: {project}"
    _say(
        args,
        "done",
        text,
        provider=args.provider,
        credential=tokens.credential,
        account=tokens.account,
        project=project,
    )
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    try:
        if args.api_key_stdin or args.provider not in OAUTH_PROVIDERS:
            return _login_api_key(args)
        store = _open_store(not _json(args))
        store.list_names()  # ask for the passphrase (or fail on a wrong one) before the user logs in
        return asyncio.run(_login_oauth(args, store))
    except (AuthError, SecretStoreError, OSError, ValueError) as exc:
        _fail(args, str(exc))
        return 1
    except KeyboardInterrupt:
        _fail(args, "login cancelled")
        return 130


def cmd_logout(args: argparse.Namespace) -> int:
    try:
        store = _open_store(not _json(args))
        removed = [] if args.api_key else delete_tokens(store, args.provider, args.label or None)
        key_removed = not args.label and store.delete(args.provider)
        if key_removed:
            removed.append(f"api key keyring:{args.provider}")
    except SecretStoreError as exc:
        _fail(args, str(exc))
        return 1
    if not removed:
        nothing = f"Nothing stored for {args.provider}."
        if _json(args):
            _fail(args, nothing)
        else:
            print(nothing)
        return 1
    _tell_engine(args, keys_changed=bool(key_removed))
    text = "\n".join(f"Removed {args.provider}: {what}" for what in removed)
    _say(args, "done", text, provider=args.provider, removed=removed)
    return 0


# -- auth status / cooldowns / keyfile ----------------------------------------------------------


async def _refresh_all(store: SecretStore) -> None:
    refresher = TokenRefresher(store, retry_after_error=0.0, min_refresh_gap=0.0)
    try:
        for prov, cred in await asyncio.to_thread(list_token_ids, store):
            if prov not in OAUTH_PROVIDERS:
                continue
            tokens = await asyncio.to_thread(load_tokens, store, prov, cred)
            if tokens is None or tokens.state() == "valid" or not tokens.refresh_token:
                continue
            try:
                await refresher.refresh(prov, cred, force=True)
            except AuthError:
                continue  # recorded on the login; reported below
    finally:
        await refresher.aclose()


def _status_rows(store: SecretStore) -> tuple[list[dict], list[str]]:
    rows = []
    for prov, cred in list_token_ids(store):
        tokens = load_tokens(store, prov, cred)
        if tokens is None:
            rows.append({"provider": prov, "credential": cred, "state": "error", "message": "unreadable login"})
            continue
        rows.append(
            {
                "provider": prov,
                "credential": cred,
                "account": tokens.account,
                "state": tokens.state(lead=DEFAULT_LEAD_SECONDS),
                "expires_at": tokens.expires_at,
                "message": tokens.error or "",
            }
        )
    keys = [n for n in store.list_names() if not n.startswith(OAUTH_PREFIX)]
    return rows, keys


def cmd_auth_status(args: argparse.Namespace) -> int:
    try:
        store = _open_store()
        if args.refresh:
            asyncio.run(_refresh_all(store))
        rows, keys = _status_rows(store)
    except SecretStoreError as exc:
        _err(str(exc))
        return 1
    failing = [r for r in rows if r["state"] == "error"]
    if args.json:
        print(json.dumps({"backend": store.describe(), "notice": store.notice, "logins": rows, "api_keys": keys}))
        return 1 if failing else 0
    print(_store_line(store))
    if not rows and not keys:
        print("No logins or API keys stored. Try: proxypal-engine login claude")
    now = time.time()
    for r in rows:
        when = ""
        if r.get("expires_at"):
            left = r["expires_at"] - now
            when = f", expires in {int(left // 60)} min" if left > 0 else ", expired"
        line = f"  {r['provider']:<11} {r['credential']:<28} {r['state']}{when}"
        print(line + (f"  ({r['message']})" if r["message"] else ""))
    for name in keys:
        print(f"  api key     keyring:{name}")
    if failing:
        print(f"{len(failing)} login(s) in error: run `proxypal-engine login PROVIDER` again.", file=sys.stderr)
        return 1
    return 0


async def _cooldowns(args: argparse.Namespace) -> int:
    """On the configured storage: PostgreSQL's table in team mode, else the ledger's SQLite file."""
    paths = resolve_paths()
    storage = configured_storage(paths.config_file, paths.ledger_file)
    await storage.open()
    try:
        return await _cooldowns_in(args, await CooldownStore.open(paths.ledger_file, storage.cooldown_table()))
    finally:
        await storage.close()


async def _cooldowns_in(args: argparse.Namespace, cooldowns: CooldownStore) -> int:
    if args.clear:
        n = await cooldowns.clear(args.provider, args.credential, args.model)
        print(f"Cleared {n} cooldown(s).")
        return 0
    rows = [
        c
        for c in cooldowns.list()
        if (not args.provider or c.provider == args.provider)
        and (not args.credential or c.credential == args.credential)
        and (not args.model or c.model == args.model)
    ]
    if args.json:
        print(json.dumps([{**c.to_protocol(), "status": c.status} for c in rows]))
        return 0
    if not rows:
        print("No credential is cooling down.")
    now = time.time()
    for c in rows:
        left = int(c.until - now)
        print(f"  {c.provider}/{c.credential} {c.model}: {c.reason} (HTTP {c.status}), {left} s left")
    return 0


def cmd_auth_cooldowns(args: argparse.Namespace) -> int:
    return asyncio.run(_cooldowns(args))


def cmd_auth_keyfile(args: argparse.Namespace) -> int:
    try:
        store = _open_store()
        if not isinstance(store, EncryptedFileStore):
            print(f"{store.describe()} is in use; a key file only applies to the encrypted-file store.")
            return 1
        path = store.enable_keyfile()
    except SecretStoreError as exc:
        _err(str(exc))
        return 1
    print(f"Secrets are now encrypted with the key file {path} (mode 0600).")
    print("Anyone who can read that file can read your secrets; keep backups of it private.")
    return 0
