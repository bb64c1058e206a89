"""Does the config load? The same loader and `ConfigIssue`s the engine uses, one finding per issue."""

from __future__ import annotations

from proxy_engine.config import ConfigError, LoadedConfig, is_loopback, load_config
from proxy_engine.config_warnings import config_warnings
from proxy_engine.doctor.findings import FAIL, NOTE, OK, Finding
from proxy_engine.paths import Paths


def check_config(paths: Paths) -> tuple[LoadedConfig | None, list[Finding]]:
    """The loaded config (None when it does not validate) and what was found."""
    path = paths.config_file
    try:
        loaded = load_config(path)
    except ConfigError as e:
        return None, [
            Finding(
                "config",
                f"{i.file}:{i.line or 1}",
                FAIL,
                i.message,
                f"edit line {i.line or 1} of {i.file}, then run `proxypal-engine check-config`",
            )
            for i in e.issues
        ]
    if loaded.path is None:
        found = [
            Finding(
                "config",
                str(path),
                NOTE,
                "no config file yet: the built-in defaults are used",
                "run `proxypal-tui` or write the file to add providers",
            )
        ]
    else:
        found = [Finding("config", str(path), OK, "valid")]
    found += [Finding("config", str(path), NOTE, f"warning: {w}") for w in config_warnings(loaded.config)]
    cfg = loaded.config
    if not is_loopback(cfg.host) and not cfg.clients:  # the engine refuses to start so (runtime.open_bind_issue)
        found.append(
            Finding(
                "config",
                str(path),
                FAIL,
                f"host {cfg.host} is not loopback and there are no `clients:`; "
                "the engine refuses to listen there, as anyone on the network could use it",
                "add `clients:` with a key per tool, or set `host: 127.0.0.1`",
            )
        )
    return loaded, found
