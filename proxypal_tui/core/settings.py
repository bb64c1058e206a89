"""The TUI's own settings: `tui.yaml` beside the config, overridden by PROXYPAL_TUI_* variables.

```yaml
theme: proxypal-light
keymap: {screen.requests: "f2", requests.pause: "ctrl+space"}   # binding id -> key
stop_grace_s: 5
```
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

import yaml
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from proxy_engine.paths import atomic_write

SETTINGS_NAME = "tui.yaml"
_settings_file: ContextVar[Path | None] = ContextVar("proxypal_tui_settings_file", default=None)


class TuiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROXYPAL_TUI_", extra="ignore")

    theme: str = "proxypal-dark"
    keymap: dict[str, str] = Field(default_factory=dict, description="binding id -> key(s)")
    stop_grace_s: float = Field(default=5.0, ge=0.1, le=120)
    ready_timeout_s: float = Field(default=30.0, ge=1, le=600)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _settings_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None and path.exists():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def settings_path(config_file: Path) -> Path:
    return config_file.parent / SETTINGS_NAME


def load_settings(path: Path) -> TuiSettings:
    token = _settings_file.set(path)
    try:
        return TuiSettings()
    finally:
        _settings_file.reset(token)


def save_theme(path: Path, theme: str) -> None:
    """Remember the chosen theme, keeping the file's other settings."""
    data: dict[str, object] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = loaded if isinstance(loaded, dict) else {}
    data["theme"] = theme
    atomic_write(path, yaml.safe_dump(data, sort_keys=False))
