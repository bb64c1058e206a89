"""`serve` on an API-key config loads only what such a proxy uses (issue #16: start-up time and memory).

A probe starts the engine exactly as `proxypal-engine serve` does (`cli.main(["serve"])`), waits until it
answers /healthz, optionally makes the calls that need the lazy parts, then prints what `sys.modules`
holds and stops the engine with SIGTERM. Team mode, /metrics and translated routes keep working: their
own tests (tests/team, tests/engine/test_metrics.py, tests/translate, tests/request_path) cover that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine_harness import free_port

PROBE = r"""
import json, os, signal, sys, threading, time, urllib.error, urllib.request
from pathlib import Path

port, touch = int(sys.argv[1]), sys.argv[2] == "touch"
base = f"http://127.0.0.1:{port}"
BEFORE = set(sys.modules)  # the probe's own imports (urllib, json...) are not the engine's

def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code

def watch():
    for _ in range(600):
        try:
            if call("GET", "/healthz") == 200:
                break
        except OSError:
            time.sleep(0.05)
    statuses = {}
    if touch:  # the first translated call and the first scrape load what they need
        body = json.dumps({"model": "openai/gpt-4o-mini", "max_tokens": 5,
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        statuses["translated"] = call("POST", "/v1/messages", body, {"Content-Type": "application/json",
                                                                     "anthropic-version": "2023-06-01"})
        key = (Path(os.environ["PROXYPAL_HOME"]) / "data" / "management.key").read_text().strip()
        statuses["metrics"] = call("GET", "/metrics", headers={"Authorization": "Bearer " + key})
    engine = sorted(m for m in set(sys.modules) - BEFORE if m.startswith("proxy_engine"))
    tops = sorted({m.split(".")[0] for m in sys.modules if not m.startswith("proxy_engine")})
    print("PROBE " + json.dumps({"top": tops, "engine": engine, "statuses": statuses}), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=watch, daemon=True).start()
from proxy_engine.cli import main
sys.exit(main(["serve"]))
"""

# What a proxy with API keys does not use at start: team mode (Redis, PostgreSQL), Prometheus, the
# genai-prices catalogue (the price table covers configured routes), logins (keyring, authlib), AWS,
# and psutil (only to name a port's holder). pydantic stays: it declares and checks the config.
NOT_AT_START = {"redis", "asyncpg", "prometheus_client", "genai_prices", "keyring", "authlib", "botocore",
                "boto3", "httpx", "cryptography", "psutil", "opentelemetry"}  # fmt: skip
# The translate package's codecs and internal model: only its light error and estimate modules load.
CODECS = {"proxy_engine.translate.translator", "proxy_engine.translate.ir", "proxy_engine.translate.anthropic",
          "proxy_engine.translate.openai_chat", "proxy_engine.translate.gemini"}  # fmt: skip


def _serve_probe(tmp_path: Path, touch: bool) -> dict:
    port = free_port()
    tmp_path.joinpath("config.yaml").write_text(
        f"port: {port}\nproviders:\n"
        "  openai: {base_url: 'http://127.0.0.1:9/v1', api_key: env:BK}\n"
        "  anthropic: {base_url: 'http://127.0.0.1:9', api_key: env:BK}\n"
        "  gemini: {base_url: 'http://127.0.0.1:9', api_key: env:BK}\n"
        "models:\n  Rush: {openai: gpt-4o-mini}\n"
    )
    env = dict(os.environ, PROXYPAL_HOME=str(tmp_path), BK="bench-key", PROXYPAL_LOG_LEVEL="warning")
    env.pop("PROXYPAL_CONFIG", None)
    # The price table an engine that served these models before has (usage/price_table.py); without it
    # genai-prices is loaded at start, in a thread, for the configured routes.
    pairs = json.dumps([["openai", "gpt-4o-mini"], ["anthropic", "claude-haiku-4-5"], ["google", "gemini-2.5-flash"]])
    table = subprocess.run([sys.executable, "-m", "proxy_engine.usage.price_resolve"], input=pairs, env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    tmp_path.joinpath("state").mkdir(mode=0o700)
    tmp_path.joinpath("state", "prices.json").write_text(table)
    out = subprocess.run([sys.executable, "-c", PROBE, str(port), "touch" if touch else "idle"],
                         env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("PROBE ")), None)
    assert line is not None, out.stderr[-2000:]
    assert out.returncode == 0, out.stderr[-2000:]  # SIGTERM: a graceful stop
    return json.loads(line.removeprefix("PROBE "))


def test_serve_with_api_keys_loads_no_team_metrics_prices_login_or_codec_code(tmp_path: Path) -> None:
    seen = _serve_probe(tmp_path, touch=False)
    assert set(seen["top"]) & NOT_AT_START == set()
    assert set(seen["engine"]) & CODECS == set()
    assert not any(m.startswith("proxy_engine.team_state") for m in seen["engine"])
    assert "aiohttp" in seen["top"] and "proxy_engine.request_path.handler" in seen["engine"]


def test_the_first_translated_call_and_scrape_load_what_they_need(tmp_path: Path) -> None:
    """The probe can fail: the same engine, once it has translated a call and been scraped, holds both."""
    seen = _serve_probe(tmp_path, touch=True)
    assert seen["statuses"]["metrics"] == 200
    assert seen["statuses"]["translated"] == 502  # translated, then the upstream (port 9) cannot be reached
    assert "prometheus_client" in seen["top"]
    assert "proxy_engine.translate.translator" in seen["engine"]


def test_the_pass_through_check_names_the_wrapped_signature_prefix() -> None:
    """passthrough.WRAP_MARK spells out thinking.WRAP_PREFIX so the check loads no codec; they must agree."""
    from proxy_engine.translate.passthrough import WRAP_MARK
    from proxy_engine.translate.thinking import WRAP_PREFIX

    assert WRAP_PREFIX.encode() == WRAP_MARK
