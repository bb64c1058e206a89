"""`proxypal-engine keys create|list|revoke|rotate`: member keys on the configured storage.

The commands write the database the config names (the ledger's SQLite file, or `team.postgres`)
directly, with the audit actor `cli:USER`, then ask an engine running on this config to re-read
the keys at once (otherwise it does within seconds). A new key is printed once, alone on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import Any

from proxy_engine.storage.errors import StorageUnavailable


def add_keys_subcommands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="member keys: create, list, revoke, rotate", parents=[common])
    ks = keys.add_subparsers(dest="keys_command", required=True)
    p = ks.add_parser("create", help="make a key for a member and print it (once)", parents=[common])
    p.add_argument("name")
    p.add_argument("--team", default=None)
    p.add_argument("--budget-monthly-usd", type=float, default=None, metavar="USD")
    p.add_argument("--models", default=None, help="comma-separated friendly names or provider/model (* patterns)")
    p.add_argument("--rpm", type=int, default=None, help="requests per minute")
    p.add_argument("--tpm", type=int, default=None, help="tokens per minute")
    p.add_argument("--expires", default=None, metavar="DATE", help="YYYY-MM-DD (the key works through that day)")
    p.add_argument("--json", action="store_true")
    p = ks.add_parser("list", help="the keys (never the keys themselves: their id and prefix)", parents=[common])
    p.add_argument("--all", action="store_true", help="revoked keys too")
    p.add_argument("--json", action="store_true")
    for name, what in (("revoke", "stop a key working (it stays listed with --all)"),
                       ("rotate", "replace a key: same member and limits, new key printed once")):  # fmt: skip
        p = ks.add_parser(name, help=what, parents=[common])
        p.add_argument("ref", metavar="ID|NAME")
        p.add_argument("--json", action="store_true")
    keys.set_defaults(handler=run_keys_command)


def run_keys_command(args: argparse.Namespace) -> int:
    """0 done, 1 refused or the database is unavailable, 2 bad config or arguments."""
    from proxy_engine.config import ConfigError, load_config
    from proxy_engine.paths import resolve_paths

    paths = resolve_paths(args.config)
    try:
        cfg = load_config(paths.config_file).config if paths.config_file.exists() else None
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    try:
        code = asyncio.run(_run(args, paths.ledger_file, cfg))
    except ValueError as e:
        print(f"keys {args.keys_command}: {e}", file=sys.stderr)
        return 2
    except StorageUnavailable as e:
        print(f"keys {args.keys_command}: {e}", file=sys.stderr)
        return 1
    if code == 0 and args.keys_command != "list" and cfg is not None:
        _tell_engine(paths.management_key_file, cfg.host, cfg.port)
    return code


async def _run(args: argparse.Namespace, ledger_file: Any, cfg: Any) -> int:  # noqa: ANN401
    from proxy_engine.members.key_admin import KeyAdmin, KeySpec, key_view
    from proxy_engine.members.keys import parse_expiry
    from proxy_engine.storage.backend import Storage

    storage = Storage.from_config(ledger_file, cfg.team if cfg is not None else None, replica_id="cli")
    await storage.open()
    try:
        import getpass

        admin, actor = KeyAdmin(storage), f"cli:{getpass.getuser()}"
        command = args.keys_command
        if command == "create":
            spec = KeySpec.checked(
                name=args.name, team=args.team, monthly_budget_usd=args.budget_monthly_usd,
                models=None if args.models is None else args.models.split(","), rpm=args.rpm, tpm=args.tpm,
                expires_at=None if args.expires is None else parse_expiry(args.expires),
            )  # fmt: skip
            made, key = await admin.create(actor, spec)
            return _shown(args, {"key": key, **key_view(made)}, f"created {made.id} for {made.name}")
        if command == "list":
            keys = [key_view(k) for k in await admin.list(include_revoked=args.all)]
            print(json.dumps({"keys": keys}, indent=2) if args.json else _table(keys))
            return 0
        if command == "revoke":
            gone = await admin.revoke(actor, args.ref)
            if gone is None:
                print(f"keys revoke: no live key has the id or name {args.ref!r}", file=sys.stderr)
                return 1
            print(json.dumps({"ok": True, "id": gone.id}) if args.json else f"revoked {gone.id} ({gone.name})")
            return 0
        done = await admin.rotate(actor, args.ref)
        if done is None:
            print(f"keys rotate: no live key has the id or name {args.ref!r}", file=sys.stderr)
            return 1
        return _shown(args, {"key": done[1], **key_view(done[0])}, f"rotated {done[0].id}; the old key is refused now")
    finally:
        await storage.close()


def _shown(args: argparse.Namespace, view: dict[str, Any], note: str) -> int:
    if args.json:
        print(json.dumps(view, indent=2))
    else:
        print(view["key"])
        print(f"{note}. The key is shown only this once: give it to its member now.", file=sys.stderr)
    return 0


def _table(keys: list[dict[str, Any]]) -> str:
    if not keys:
        return "no member keys yet: proxypal-engine keys create NAME"
    rows = [("ID", "PREFIX", "NAME", "TEAM", "BUDGET/MO", "MODELS", "RPM", "TPM", "EXPIRES", "STATE")]
    for k in keys:
        expires = dt.datetime.fromtimestamp(k["expires_at"]).strftime("%Y-%m-%d %H:%M") if k["expires_at"] else "-"
        state = "revoked" if k["revoked_at"] else "active" if k["active"] else "expired"
        budget = "-" if k["monthly_budget_usd"] is None else f"${k['monthly_budget_usd']:.2f}"
        rows.append((k["id"], k["prefix"] + "…", k["name"], k["team"] or "-", budget, ",".join(k["models"] or ["*"]),
                     str(k["rpm"] or "-"), str(k["tpm"] or "-"), expires, state))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows)


def _tell_engine(key_file: Any, host: str, port: int) -> None:  # noqa: ANN401
    """Best effort: an engine on this config re-reads the keys now; none running is fine."""
    import urllib.error
    import urllib.request  # here: `serve` imports this module for its parsers only

    host = "127.0.0.1" if host in ("0.0.0.0", "", "localhost") else host
    host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
    try:
        key = key_file.read_text(encoding="utf-8").strip()
    except OSError:
        return
    request = urllib.request.Request(f"http://{host}:{port}/v0/keys/refresh", method="POST", data=b"",
                                     headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the key never goes to a proxy
    try:
        with opener.open(request, timeout=3):
            pass
    except (urllib.error.URLError, OSError):
        return
