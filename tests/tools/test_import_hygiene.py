"""`proxypal-tui tools` stays light and within the TUI/engine contract."""

from __future__ import annotations

import subprocess
import sys

# kind_facts is the pure-data list of provider kinds that config.py re-exports to the TUI.
ALLOWED_ENGINE = {"proxy_engine", "proxy_engine.config", "proxy_engine.kind_facts", "proxy_engine.paths"}


def test_cli_imports_neither_textual_nor_engine_internals() -> None:
    code = (
        "import sys, proxypal_tui.tools.cli; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'proxy_engine'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(filter(None, out.stdout.strip().split(",")))
    assert not any(m.startswith("textual") for m in loaded), loaded
    assert loaded <= ALLOWED_ENGINE, f"engine internals imported: {loaded - ALLOWED_ENGINE}"
    assert "proxy_engine.config" in loaded, "the probe must see the modules the CLI does use"
