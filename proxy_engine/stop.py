"""`proxypal-engine stop`: ask the engine on the configured address to shut down, and wait until it has."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

from proxy_engine.config import ConfigError, load_config
from proxy_engine.paths import resolve_paths

STOP_WAIT_S = 30.0  # the engine drains in-flight streams first (shutdown_grace_s)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_engine(args: argparse.Namespace) -> int:
    """0 when the engine stopped, 1 when none answered or it did not stop, 2 for a bad config."""
    paths = resolve_paths(args.config)
    try:
        cfg = load_config(paths.config_file).config
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    host = "127.0.0.1" if cfg.host in ("0.0.0.0", "", "localhost") else cfg.host
    host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
    url = f"http://{host}:{cfg.port}/v0/shutdown"
    try:
        key = paths.management_key_file.read_text(encoding="utf-8").strip()
    except OSError:
        print(f"no engine has run with this config (no management key in {paths.data_dir})", file=sys.stderr)
        return 1
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            pid = int(json.loads(answer.read())["pid"])
    except urllib.error.HTTPError as e:
        print(f"the engine on {host}:{cfg.port} refused to stop: HTTP {e.code}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as e:
        print(f"no engine answers on {host}:{cfg.port} ({getattr(e, 'reason', e)})", file=sys.stderr)
        return 1
    print(f"stopping the engine (pid {pid}) on {host}:{cfg.port}…", flush=True)
    deadline = time.monotonic() + STOP_WAIT_S
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        print(f"the engine (pid {pid}) is still running after {STOP_WAIT_S:.0f} s", file=sys.stderr)
        return 1
    print("stopped")
    return 0
