"""A class name means one thing: no class name is defined in both `proxy_engine` and `proxypal_tui`.

The TUI reads the engine's protocol types, so a TUI class that shares an engine class's name
(say, two `RequestRecord`s) makes every import and every traceback ambiguous.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy_engine", "proxypal_tui")


def class_homes(root: Path, packages: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """Class name -> package -> files that define a class of that name."""
    homes: dict[str, dict[str, list[str]]] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    where = homes.setdefault(node.name, {}).setdefault(pkg, [])
                    where.append(str(path.relative_to(root)))
    return homes


def shared_class_names(root: Path, packages: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """The class names defined in more than one of `packages`."""
    return {name: where for name, where in class_homes(root, packages).items() if len(where) > 1}


def test_no_class_name_in_both_packages() -> None:
    shared = shared_class_names(ROOT, PACKAGES)
    assert shared == {}, f"rename one of each pair: {shared}"


def test_a_shared_class_name_is_found(tmp_path: Path) -> None:
    """The check itself can fail: a planted pair of `Usage` classes is reported."""
    planted = {"engine_pkg": "class Usage:\n    pass\n", "tui_pkg": "class Usage:\n    pass\nclass Only:\n    pass\n"}
    for pkg, body in planted.items():
        (tmp_path / pkg / "sub").mkdir(parents=True)
        (tmp_path / pkg / "sub" / "mod.py").write_text(body, encoding="utf-8")
    shared = shared_class_names(tmp_path, ("engine_pkg", "tui_pkg"))
    assert shared == {"Usage": {"engine_pkg": ["engine_pkg/sub/mod.py"], "tui_pkg": ["tui_pkg/sub/mod.py"]}}
