"""Hot reload: watch the config file, validate, and swap the runtime atomically.

An invalid file leaves the last good config serving and says why (file, line, reason).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from proxy_engine.config import ConfigError, ConfigIssue, is_loopback, load_config, parse_config_text
from proxy_engine.config_warnings import config_warnings
from proxy_engine.file_watch import watch_folder
from proxy_engine.paths import atomic_write, make_private_dirs
from proxy_engine.protocol import ConfigProblem, ConfigReloaded
from proxy_engine.runtime import build_runtime, open_bind_issue
from proxy_engine.state import ENGINE

log = logging.getLogger("proxy_engine.reload")
_LOCK = web.AppKey("reload_lock", asyncio.Lock)


async def reload_now(app: web.Application) -> list[ConfigIssue]:
    state = app[ENGINE]
    path = state.paths.config_file
    async with app[_LOCK]:
        try:
            loaded = await asyncio.to_thread(load_config, path)
            runtime = await asyncio.to_thread(build_runtime, loaded, state.host)
            if issue := open_bind_issue(runtime, state.host):
                raise ConfigError([issue])
        except ConfigError as e:
            issues, warnings = e.issues, []
        else:
            issues, warnings = [], config_warnings(runtime.config)
            cfg, old = runtime.config, state.runtime.config
            if (cfg.host, cfg.port) != (old.host, old.port):
                log.warning("host/port changes take effect after a restart of the engine")
            state.runtime = runtime
            state.credentials.sync()
            state.budgets.configure(runtime.config)
            state.recorder.configure(runtime.config.recorder)
        state.config_errors = issues
    if issues:
        log.error("config not applied, the previous one keeps serving: %s", "; ".join(map(str, issues)))
    else:
        log.info("config reloaded from %s", path)
    for warning in warnings:
        log.warning("config: %s", warning)
    problems = [ConfigProblem(file=i.file, line=i.line, message=i.message) for i in issues]
    state.bus.publish(ConfigReloaded(ok=not issues, errors=problems, path=str(path), warnings=warnings))
    return issues


async def apply_config_text(app: web.Application, text: str) -> None:
    """Validate, write atomically (0600), then reload at once; raises ConfigError without writing."""
    state = app[ENGINE]
    path = state.paths.config_file
    cfg = parse_config_text(text, str(path))
    if not cfg.clients and not is_loopback(state.host):  # checked before writing; reload_now checks readability
        why = f"clients: the engine listens on {state.host}, which is not loopback; it needs `clients:`"
        raise ConfigError([ConfigIssue(str(path), None, why)])
    await asyncio.to_thread(atomic_write, path, text)
    issues = await reload_now(app)
    if issues:
        raise ConfigError(issues)


async def watch_config(app: web.Application) -> None:
    path = app[ENGINE].paths.config_file
    make_private_dirs(path.parent)
    last = path.read_text(encoding="utf-8") if path.exists() else None
    async for changes in watch_folder(path.parent, debounce_ms=150, step_ms=30):
        if not any(Path(p) == path for _, p in changes):
            continue
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError):
            text = None  # unreadable: reload_now reports it
        if text == last:
            continue
        last = text
        try:
            await reload_now(app)
        except Exception:  # one bad edit must not end the watch: later edits still apply
            log.exception("config reload failed; still watching %s", path)


def setup_reload(app: web.Application) -> None:
    app[_LOCK] = asyncio.Lock()
