"""Everything the app is started with; tests build it directly, the CLI from arguments."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from proxy_engine.paths import Paths
from proxypal_tui.core.engine_state import Backoff
from proxypal_tui.core.settings import TuiSettings


@dataclass
class AppOptions:
    config_path: Path
    paths: Paths
    attach_only: bool = False
    keep_engine: bool = False
    first_run: bool = False
    settings: TuiSettings = field(default_factory=TuiSettings)
    settings_file: Path | None = None
    clock: Callable[[], float] = time.time
    engine_command: list[str] | None = None
    engine_env: dict[str, str] | None = None  # also the environment of `login`/`logout` runs
    login_cli: list[str] | None = None  # `proxypal-engine` for logins (default: this interpreter's)
    backoff: Backoff = field(default_factory=Backoff)
    redraw_interval: float = 0.5
    usage_interval: float = 30.0
    reload_wait: float = 5.0
    theme_dirs: list[Path] | None = None
    watch_themes: bool = True
    sample_engine: bool = True
    tools_home: Path | None = None  # where the Tools screen looks for tool settings (default: ~)
    tools_search_path: str | None = None  # where it looks for tool binaries (default: $PATH)
