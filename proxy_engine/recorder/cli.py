"""`proxypal-engine capture ID | replay ID [--model M] [--provider P] | export ID [-o FILE]`.

`capture` and `export` read the capture store directly (they work with the engine stopped);
`replay` asks the running engine (`POST /v0/requests/{id}/replay`), streams the answer as it
comes and prints the diff against the original.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from proxy_engine.config import ConfigError, load_config
from proxy_engine.paths import atomic_write, resolve_paths
from proxy_engine.recorder.store import CaptureStore, capture_dir, valid_id

# Every CLI run registers these commands; what only they need (translate codecs) loads when one runs.
COMMANDS = frozenset({"capture", "replay", "export"})


def _load(args: argparse.Namespace) -> dict[str, Any] | None:
    if not valid_id(args.id):
        print(f"{args.id!r} is not a request id (hex digits, as in X-ProxyPal-Request-Id)", file=sys.stderr)
        return None
    store = CaptureStore(capture_dir(resolve_paths(args.config).state_dir))
    try:
        doc = store.get(args.id)
    finally:
        store.close()
    if doc is None:
        print(f"no capture for request {args.id} (see recorder.mode in the config)", file=sys.stderr)
    return doc


def _capture(args: argparse.Namespace) -> int:
    from proxy_engine.recorder.present import readable

    doc = _load(args)
    if doc is None:
        return 1
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if args.json else readable(doc))
    return 0


def _export(args: argparse.Namespace) -> int:
    from proxy_engine.recorder.export import fixture_json

    doc = _load(args)
    if doc is None:
        return 1
    out = args.output or Path(f"capture-{args.id}.json")
    if str(out) == "-":
        sys.stdout.write(fixture_json(doc))
        return 0
    atomic_write(out, fixture_json(doc))
    print(f"wrote {out}")
    return 0


def _engine_url(args: argparse.Namespace) -> tuple[str, str] | None:
    paths = resolve_paths(args.config)
    try:
        cfg = load_config(paths.config_file).config
    except ConfigError as e:
        print(e, file=sys.stderr)
        return None
    host = "127.0.0.1" if cfg.host in ("0.0.0.0", "", "localhost") else cfg.host
    host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
    try:
        key = paths.management_key_file.read_text(encoding="utf-8").strip()
    except OSError:
        print(f"no engine has run with this config (no management key in {paths.data_dir})", file=sys.stderr)
        return None
    return f"http://{host}:{cfg.port}", key


def _replay(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request  # here, not at the top: `serve` imports this module for its parsers only

    if not valid_id(args.id):
        print(f"{args.id!r} is not a request id", file=sys.stderr)
        return 2
    target = _engine_url(args)
    if target is None:
        return 1
    base, key = target
    body = json.dumps({"model": args.model, "provider": args.provider, "stream": True}).encode()
    req = urllib.request.Request(
        f"{base}/v0/requests/{args.id}/replay", data=body, method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the key never goes to a proxy
    try:
        with opener.open(req, timeout=600) as answer:
            return _print_replay(answer)
    except urllib.error.HTTPError as e:
        print(f"replay refused: HTTP {e.code}: {_error_text(e.read())}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as e:
        print(f"no engine answers on {base} ({getattr(e, 'reason', e)})", file=sys.stderr)
    return 1


def _error_text(raw: bytes) -> str:
    try:
        return str(json.loads(raw).get("error"))
    except (ValueError, AttributeError):
        return raw[:200].decode(errors="replace")


def _print_replay(answer: Any) -> int:  # noqa: ANN401 - an http.client response
    from proxy_engine.recorder.diff_text import render_diff

    result: dict[str, Any] | None = None
    for line in answer:
        msg = json.loads(line)
        if msg["type"] == "start":
            print(f"replaying as request {msg['request_id']} (status {msg['status']})", flush=True)
        elif msg["type"] == "chunk":
            sys.stdout.write(msg["text"])
            sys.stdout.flush()
        elif msg["type"] == "error":
            print(f"\n{msg['error']}", file=sys.stderr)
            return 1
        elif msg["type"] == "result":
            result = msg
    if result is None:
        print("\nthe engine ended the replay without a result", file=sys.stderr)
        return 1
    print(f"\n\n== diff: original {result['original_id']} vs replay {result['request_id']} ==")
    sys.stdout.write(render_diff(result["diff"]))
    return 0


def add_capture_subcommands(sub: Any, common: argparse.ArgumentParser) -> None:  # noqa: ANN401 - argparse's private type
    p = sub.add_parser("capture", help="print a request's captured stages", parents=[common])
    p.add_argument("id", help="the request id (X-ProxyPal-Request-Id)")
    p.add_argument("--json", action="store_true", help="the stored JSON document")
    p.set_defaults(handler=_capture)
    p = sub.add_parser("replay", help="send a captured request through the proxy again and diff", parents=[common])
    p.add_argument("id", help="the request id")
    p.add_argument("--model", default=None, help="send it to this model (a friendly name or provider/model)")
    p.add_argument("--provider", default=None, help="send it to this provider (with --model, or the original model)")
    p.set_defaults(handler=_replay)
    p = sub.add_parser("export", help="write a capture as a redacted JSON test fixture", parents=[common])
    p.add_argument("id", help="the request id")
    p.add_argument(
        "-o", "--output", type=Path, default=None, help="file to write (default capture-ID.json; - for stdout)"
    )
    p.set_defaults(handler=_export)
