"""`proxypal-engine login | logout | auth ...`: log in once per provider from a terminal.

Mount with `add_auth_subcommands(subparsers)`; every parser sets `handler`, a function of
the parsed args returning the exit code. Secrets never travel in argv (keys come from stdin
or a masked prompt) and are never printed.
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

from proxy_engine.auth.console import ConsoleLoginUI, has_terminal
from proxy_engine.auth.cooldowns import CooldownStore
from proxy_engine.auth.endpoints import OAUTH_PROVIDERS
from proxy_engine.auth.filestore import EncryptedFileStore
from proxy_engine.auth.flows import browser_login, codex_device_login, device_login
from proxy_engine.auth.oauth import AuthError
from proxy_engine.auth.providers import VertexAuth, provider_auth
from proxy_engine.auth.refresher import TokenRefresher
from proxy_engine.auth.store import CredentialStore, SecretStoreError, open_credential_store
from proxy_engine.auth.tokens import (
    DEFAULT_LEAD_SECONDS,
    OAUTH_PREFIX,
    delete_tokens,
    list_token_ids,
    load_tokens,
    save_tokens,
)
from proxy_engine.paths import resolve_paths

API_KEY_PROVIDERS = ("anthropic", "openai", "gemini", "openai_compatible", "azure_openai", "qwen")


def add_auth_subcommands(subparsers: argparse._SubParsersAction) -> None:
    login = subparsers.add_parser(
        "login",
        help="log in to a provider (OAuth, device code, service account) or store its API key",
        description=f"OAuth logins: {', '.join(OAUTH_PROVIDERS)}. Any other name stores an API key "
        f"(for example {', '.join(API_KEY_PROVIDERS)}, or your openai_compatible provider's name).",
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
    login.set_defaults(handler=cmd_login)

    logout = subparsers.add_parser("logout", help="forget a provider's logins or API key")
    logout.add_argument("provider")
    logout.add_argument("--label", default="", help="only this login (credential id)")
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


def _prompt_passphrase() -> str:
    if not has_terminal():
        return ""
    directory = resolve_paths().data_dir / "secrets"
    first = getpass.getpass("Passphrase for the ProxyPal secrets file: ")
    if first and not EncryptedFileStore.exists(directory) and getpass.getpass("Repeat the passphrase: ") != first:
        raise SecretStoreError("the passphrases did not match")
    return first


def _open_store() -> CredentialStore:
    return open_credential_store(passphrase=_prompt_passphrase)


def _store_line(store: CredentialStore) -> str:
    line = f"Secrets: {store.describe()}"
    return f"{line}\nNotice: {store.notice}" if store.notice else line


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0), follow_redirects=False)


# -- login / logout -----------------------------------------------------------------------------


def _read_api_key(args: argparse.Namespace) -> str:
    if args.api_key_stdin:
        return sys.stdin.read().strip()
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
    store = _open_store()
    store.set(name, key)
    print(_store_line(store))
    print(f"Stored the API key for {args.provider} as keyring:{name}.")
    print(f"Reference it in config.yaml as:  api_key: keyring:{name}")
    return 0


async def _login_oauth(args: argparse.Namespace, store: CredentialStore) -> int:
    provider = provider_auth(args.provider)
    ui = ConsoleLoginUI()
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
        elif args.provider == "codex" and args.device:
            tokens = await codex_device_login(provider, ui, http=http, label=args.label)
        elif "browser" in provider.flows:
            tokens = await asyncio.wait_for(
                browser_login(
                    provider,
                    ui,
                    http=http,
                    no_browser=args.no_browser,
                    open_browser=webbrowser.open,
                    wait_seconds=args.timeout,
                    label=args.label,
                    project=args.project,
                ),
                args.timeout + 120,
            )
        else:
            tokens = await device_login(provider, ui, http=http, pkce=args.provider == "qwen", label=args.label)
    await asyncio.to_thread(save_tokens, store, tokens)
    print(_store_line(store))
    print(f"Logged in to {args.provider} as {tokens.account} (credential {tokens.credential}).")
    if tokens.extra.get("project_id"):
        print(f"Project: {tokens.extra['project_id']}")
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    try:
        if args.api_key_stdin or args.provider not in OAUTH_PROVIDERS:
            return _login_api_key(args)
        store = _open_store()
        store.list_names()  # ask for the passphrase (or fail on a wrong one) before the user logs in
        return asyncio.run(_login_oauth(args, store))
    except (AuthError, SecretStoreError, OSError, ValueError) as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("login cancelled")
        return 130


def cmd_logout(args: argparse.Namespace) -> int:
    try:
        store = _open_store()
        removed = delete_tokens(store, args.provider, args.label or None)
        if not args.label and store.delete(args.provider):
            removed.append(f"api key keyring:{args.provider}")
    except SecretStoreError as exc:
        _err(str(exc))
        return 1
    if not removed:
        print(f"Nothing stored for {args.provider}.")
        return 1
    for what in removed:
        print(f"Removed {args.provider}: {what}")
    return 0


# -- auth status / cooldowns / keyfile ----------------------------------------------------------


async def _refresh_all(store: CredentialStore) -> None:
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


def _status_rows(store: CredentialStore) -> tuple[list[dict], list[str]]:
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
    cooldowns = await CooldownStore.open(resolve_paths().ledger_file)
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
