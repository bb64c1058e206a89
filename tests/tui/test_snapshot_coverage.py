"""Every screen of the app has snapshots at 60x20, 80x24 and 120x40 (60x20: the smallest terminal we promise).

The screens are found, not listed: every Screen subclass defined in `proxypal_tui.screens` (the
app's modes and its dialogs). A snapshot test says which screen its picture shows with
`scene(..., shows=Screen)`, which the scene also asserts at run time; this test reads those
declarations from every snapshot module here (test_snapshots.py, and a screen's own such as
test_doctor_screen.py) and checks every size's SVG is stored.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

from textual.screen import Screen

import proxypal_tui.screens
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.screens.cli_dialog import CliDialog

HERE = Path(__file__).parent
SNAPSHOT_ROOT = HERE / "__snapshots__"
SNAPSHOT_MODULES = ("test_snapshots", "test_doctor_screen")
SIZES = ("60x20", "80x24", "120x40")
ABSTRACT = {ProxyPalScreen, CliDialog}
# States that are not a screen of their own but must be pictured at every size too.
STATES = {"test_onboarding": "first run", "test_requests_error_detail": "the request detail pane"}


def app_screens() -> set[type[Screen]]:
    found: set[type[Screen]] = set()
    for info in pkgutil.iter_modules(proxypal_tui.screens.__path__, "proxypal_tui.screens."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__ and cls not in ABSTRACT:
                found.add(cls)
    return found


def declared() -> dict[str, tuple[str, bool]]:
    """ "module/test name" -> (screen class name in `shows=`, parametrized over every size)."""
    out: dict[str, tuple[str, bool]] = {}
    for module in SNAPSHOT_MODULES:
        for name, found in _declared_in(module).items():
            out[f"{module}/{name}"] = found
    return out


def _declared_in(module: str) -> dict[str, tuple[str, bool]]:
    tree = ast.parse((HERE / f"{module}.py").read_text())
    out: dict[str, tuple[str, bool]] = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test_"):
            continue
        sized = any(isinstance(d, ast.Name) and d.id == "SIZES" for d in fn.decorator_list)
        shows = [
            kw.value.id
            for node in ast.walk(fn)
            if isinstance(node, ast.Call)
            for kw in node.keywords
            if kw.arg == "shows" and isinstance(kw.value, ast.Name)
        ]
        out[fn.name] = (shows[0] if shows else "", sized)
    return out


def test_every_screen_has_snapshots_at_every_size() -> None:
    screens = app_screens()
    modes = set(ProxyPalApp.PAGES.values())
    assert modes <= screens  # the discovery sees at least every mode the app switches between
    assert {"ToolsPage", "LoginScreen", "AddKeyScreen", "HelpScreen", "ConfirmScreen", "DoctorScreen"} <= {
        s.__name__ for s in screens
    }
    tests = declared()
    missing = []
    for screen in sorted(screens, key=lambda s: s.__name__):
        pictures = [name for name, (shows, sized) in tests.items() if shows == screen.__name__ and sized]
        stored = [n for n in pictures if all((SNAPSHOT_ROOT / f"{n}[{size}].svg").is_file() for size in SIZES)]
        if not stored:
            missing.append(screen.__name__)
    assert not missing, f"screens without snapshots at {' and '.join(SIZES)}: {missing}"


def test_named_states_have_snapshots_at_every_size() -> None:
    tests = declared()
    for name, what in STATES.items():
        key = f"test_snapshots/{name}"
        assert tests.get(key, ("", False))[1], f"{name} ({what}) is not parametrized over every size"
        for size in SIZES:
            assert (SNAPSHOT_ROOT / f"{key}[{size}].svg").is_file(), f"no {size} snapshot of {what}"


def test_the_discovery_can_fail() -> None:
    """A screen without pictures is reported: the check is not vacuous."""

    class UnpicturedScreen(Screen[None]):
        pass

    tests = declared()
    assert not [n for n, (shows, _) in tests.items() if shows == UnpicturedScreen.__name__]
