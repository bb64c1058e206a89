"""The engine must stay headless: importing it never pulls in Textual or the TUI."""

import subprocess
import sys

import pytest

ENGINE_MODULES = [
    "proxy_engine",
    "proxy_engine.config",
    "proxy_engine.protocol",
    "proxy_engine.translate",
    "proxy_engine.logins",
    "proxy_engine.secrets",
]


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_never_imports_textual_or_tui(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'proxypal_tui')); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imported {out.stdout.strip()}"


def test_contract_detects_a_violation() -> None:
    """The probe itself must be able to fail: importing the TUI does pull in Textual."""
    code = "import sys, proxypal_tui.app; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
