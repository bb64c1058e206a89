"""The port, model names and client key a tool should use, taken from the ProxyPal config.

When the config lists `clients:`, the proxy checks keys, so each tool gets its
own named key: a random token kept in the OS keyring (service "proxypal", entry
"client-<tool>") and referenced from the config as keyring:client-<tool>. On a
machine with no usable keyring the token goes to a 0600 file under
<data_dir>/client-keys/ instead, and the user is told so.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import keyring
from keyring.errors import KeyringError

from proxy_engine.config import ConfigError, candidate_pairs, is_loopback, load_config, parse_config_text
from proxy_engine.paths import Paths, atomic_write, make_private_dirs, resolve_paths
from proxypal_tui.tools.backups import read_text
from proxypal_tui.tools.edit_yaml import YamlDocument
from proxypal_tui.tools.model import PLACEHOLDER_KEY, ToolError

KEYRING_SERVICE = "proxypal"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxySettings:
    port: int
    host: str  # the address a local tool should dial
    models: dict[str, tuple[str, ...]]
    keys_enforced: bool
    config_file: Path
    client_refs: dict[str, str]  # client name -> key reference
    paths: Paths


@dataclass(frozen=True)
class ClientKey:
    value: str
    note: str
    pending: bool = False  # a dry run's stand-in: the real key is created on apply


def proxy_settings(config_path: Path | None = None) -> ProxySettings:
    """Read the ProxyPal config (or its defaults when there is no file yet)."""
    paths = resolve_paths(config_path)
    try:
        cfg = load_config(paths.config_file).config
    except ConfigError as e:
        raise ToolError(f"the ProxyPal config has errors; fix them first:\n{e}") from None
    dial = "127.0.0.1" if cfg.host in ("0.0.0.0", "::", "") or is_loopback(cfg.host) else cfg.host
    models = {name: tuple(m for _p, m in candidate_pairs(c)) for name, c in cfg.models.items()}
    return ProxySettings(
        port=cfg.port,
        host=dial,
        models=models,
        keys_enforced=bool(cfg.clients) or not is_loopback(cfg.host),
        config_file=paths.config_file,
        client_refs={c.name: c.key for c in cfg.clients},
        paths=paths,
    )


def fallback_key_file(paths: Paths, name: str) -> Path:
    return paths.data_dir / "client-keys" / name


def read_secret_ref(ref: str, paths: Paths) -> str | None:
    """The secret a `keyring:NAME` / `env:VAR` reference points at, or None when it is missing."""
    kind, _, name = ref.partition(":")
    if kind == "env":
        return os.environ.get(name) or None
    try:
        value = keyring.get_password(KEYRING_SERVICE, name)
    except KeyringError:
        value = None
    if value:
        return value
    text = read_text(fallback_key_file(paths, name))
    return text.strip() if text else None


def store_secret(name: str, value: str, paths: Paths) -> str:
    """Keep value in the keyring, or in a 0600 file when there is none; returns where it went."""
    try:
        keyring.set_password(KEYRING_SERVICE, name, value)
        return f"the OS keyring (service {KEYRING_SERVICE!r}, entry {name!r})"
    except (KeyringError, OSError):
        path = fallback_key_file(paths, name)
        make_private_dirs(path.parent)
        os.chmod(path.parent, 0o700)
        atomic_write(path, value.encode(), 0o600)
        return f"{path} (mode 0600), because no OS keyring backend is usable here"


def add_client_to_config(config_file: Path, name: str, ref: str) -> None:
    """Append {name, key: ref} to `clients:` keeping the rest of the YAML as the user wrote it."""
    text = read_text(config_file)
    if text is None:
        raise ToolError(f"cannot add a client key: {config_file} does not exist")
    doc = YamlDocument(text, str(config_file))
    doc.replace_items(
        "clients", lambda it: isinstance(it, dict) and it.get("name") == name, [{"name": name, "key": ref}]
    )
    try:
        parse_config_text(doc.text, str(config_file))
    except ConfigError as e:
        raise ToolError(f"adding the client key would make the config invalid:\n{e}") from None
    atomic_write(config_file, doc.text.encode(), config_file.stat().st_mode & 0o777)


def client_key_for(tool: str, settings: ProxySettings, *, create: bool) -> ClientKey:
    """The key this tool should send; creates and registers a named one when keys are enforced."""
    if not settings.keys_enforced:
        return ClientKey(
            PLACEHOLDER_KEY,
            "Client keys are not enforced (no `clients:` in the config, loopback only); "
            f"tools get the placeholder key {PLACEHOLDER_KEY!r}.",
        )
    ref = settings.client_refs.get(tool)
    if ref is not None:
        value = read_secret_ref(ref, settings.paths)
        if not value:
            raise ToolError(f"client {tool!r} uses key {ref}, which is not set; store it, then apply again")
        return ClientKey(value, f"Using the existing client key {ref} for {tool}.")
    entry = f"client-{tool}"
    value = secrets.token_urlsafe(32)
    if not create:
        return ClientKey(value, f"Apply will create client key keyring:{entry} and add it to `clients:`.", True)
    where = store_secret(entry, value, settings.paths)
    add_client_to_config(settings.config_file, tool, f"keyring:{entry}")
    marker = created_marker(settings.paths, tool)
    make_private_dirs(marker.parent)
    atomic_write(marker, f"keyring:{entry}\n".encode(), 0o600)
    return ClientKey(value, f"Created client key keyring:{entry} in {where}, and added it to `clients:`.")


def created_marker(paths: Paths, tool: str) -> Path:
    """Notes that apply created this tool's client key, so undo removes it again (and only then)."""
    return paths.data_dir / "tool-client-keys" / tool


def remove_created_client_key(tool: str, settings: ProxySettings) -> str | None:
    """Undo's other half: drop the client entry and the secret that apply created; None when it created none."""
    marker = created_marker(settings.paths, tool)
    ref = (read_text(marker) or "").strip()
    if not ref:
        return None
    text = read_text(settings.config_file)
    if text is not None:
        doc = YamlDocument(text, str(settings.config_file))
        doc.replace_items("clients", lambda it: isinstance(it, dict) and it.get("name") == tool, [])
        if doc.text != text:
            atomic_write(settings.config_file, doc.text.encode(), settings.config_file.stat().st_mode & 0o777)
    name = ref.partition(":")[2]
    try:
        keyring.delete_password(KEYRING_SERVICE, name)
    except KeyringError as e:
        log.debug("no keyring entry %s to delete: %s", name, e)
    fallback_key_file(settings.paths, name).unlink(missing_ok=True)
    marker.unlink()
    return f"removed client key {ref} from `clients:` and its secret (apply created it)"
