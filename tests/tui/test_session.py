"""The headless session the screens read: no Textual, one config view, and screens that never import the app."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from proxy_engine.config import ConfigError
from proxy_engine.paths import resolve_paths
from proxypal_tui.core.config_view import listen_settings
from proxypal_tui.core.engine_state import EngineState, EngineStatus
from proxypal_tui.core.session import Session
from proxypal_tui.options import AppOptions

REPO = Path(__file__).resolve().parents[2]
TUI = REPO / "proxypal_tui"


def test_the_session_imports_no_textual() -> None:
    code = (
        "import sys, proxypal_tui.core.session, proxypal_tui.app_actions; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""


def app_imports(path: Path) -> list[str]:
    """Every `proxypal_tui.app` import in a file, at any level (TYPE_CHECKING included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "proxypal_tui.app":
            found.append(f"{path.name}:{node.lineno}")
        elif isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno}" for a in node.names if a.name == "proxypal_tui.app"]
    return found


def test_screens_and_commands_never_import_the_app() -> None:
    files = [*sorted((TUI / "screens").glob("*.py")), TUI / "commands.py", TUI / "app_workers.py"]
    assert len(files) > 10
    assert [hit for f in files for hit in app_imports(f)] == []
    assert app_imports(TUI / "cli.py"), "the probe must see a real import of the app"


@pytest.fixture
def session(tmp_path: Path) -> Session:
    now = [1000.0]
    options = AppOptions(config_path=tmp_path / "config.yaml", paths=resolve_paths(), clock=lambda: now[0])
    s = Session(options, tui_dropped=lambda: 3)
    s.clock_cell = now  # type: ignore[attr-defined]
    return s


def test_uptime_counts_from_when_the_engine_became_ready(session: Session) -> None:
    now = session.clock_cell  # type: ignore[attr-defined]
    assert session.engine_uptime() is None
    assert session.set_engine_status(EngineStatus(EngineState.READY, uptime_s=50.0, listen="127.0.0.1:9"))
    now[0] += 10
    assert not session.set_engine_status(EngineStatus(EngineState.READY, uptime_s=50.0))  # not newly ready
    assert session.engine_uptime() == 60.0
    session.set_engine_status(EngineStatus(EngineState.CRASHED))
    assert session.engine_uptime() is None
    session.live.dropped_by_engine = 2
    assert session.dropped_events == 5


def test_the_config_view_keeps_the_last_valid_file(session: Session) -> None:
    path = session.config_path
    view = session.config
    view.reload()  # no file yet: nothing known, nothing counted
    assert (view.version, view.listen, session.show_onboarding()) == (0, "127.0.0.1:8317", True)
    path.write_text(
        "port: 9123\nproviders:\n  openai: {api_key: env:K}\n  claude: {kind: anthropic, auth: oauth}\n"
        "  codex: {}\nbudgets: {daily_usd: 5}\n"
    )
    view.reload()
    assert view.version == 1 and session.endpoint_listen() == "127.0.0.1:9123"
    assert session.key_based_providers() == ["claude", "openai"] and view.budgets["daily_usd"] == 5
    assert not session.show_onboarding()
    assert view.client_keys_label == "off (loopback only)"
    path.write_text("providers: {openai: {api_key: env:K}}\nclients:\n  - {name: laptop, key: env:LAPTOP_KEY}\n")
    view.reload()
    assert view.client_keys_label == "required" and view.version == 2
    path.write_text("port: [not a port\n")
    view.reload()
    assert view.version == 2 and view.client_keys_label == "required"  # the broken file changes nothing
    with pytest.raises(ConfigError):
        view.check(view.read_text())
    assert session.record_config_outcome(True, [], "saved").version == 1
    assert session.record_config_outcome(False, [{"line": 1}], "rejected").version == 2


def test_the_supervisor_finds_the_address_even_in_a_file_the_schema_rejects(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    assert listen_settings(path) == ("127.0.0.1", 8317, None)  # no file: the defaults
    path.write_text("port: 9444\nhost: ::1\nunknown_key: 1\nevents: {socket: ~/ev.sock}\n")
    assert listen_settings(path) == ("::1", 9444, Path("~/ev.sock").expanduser())
    path.write_text("port: [broken\n")
    assert listen_settings(path) == ("127.0.0.1", 8317, None)


def test_a_cheap_call_never_reads_as_free() -> None:
    """$0.00003 would round to $0.0000, which looks like nothing was spent."""
    from proxypal_tui.core.formatting import money

    assert [money(v) for v in (0, 0.00003, 0.0001, 0.0123, 1.5, 250)] == [
        "$0", "<$0.0001", "$0.0001", "$0.0123", "$1.50", "$250",
    ]  # fmt: skip
