"""Themes are YAML files turned into Textual `Theme`s: bundled ones plus the user's own.

User themes live in `<config dir>/themes/*.yaml` and are re-read when they change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from textual.theme import Theme

DEFAULT_THEME = "proxypal-dark"
_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


class ThemeError(Exception):
    pass


def bundled_theme_dirs() -> list[Path]:
    """`themes/` inside the package (wheel installs) or at the repository root (checkouts)."""
    here = Path(__file__).resolve().parent
    return [d for d in (here / "themes", here.parent / "themes") if d.is_dir()]


def user_theme_dir(config_file: Path) -> Path:
    return config_file.parent / "themes"


def theme_from_yaml(path: Path) -> Theme:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ThemeError(f"{path.name}: {e}") from None
    if not isinstance(data, dict) or not data.get("name") or not data.get("primary"):
        raise ThemeError(f"{path.name}: a theme needs at least `name` and `primary`")
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise ThemeError(f"{path.name}: `variables` must be a mapping")
    try:
        return Theme(
            name=str(data["name"]),
            dark=bool(data.get("dark", True)),
            variables={str(k): str(v) for k, v in variables.items()},
            **{k: str(data[k]) for k in _FIELDS if data.get(k) is not None},
        )
    except (TypeError, ValueError) as e:
        raise ThemeError(f"{path.name}: {e}") from None


@dataclass
class ThemeSet:
    themes: list[Theme] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_themes(dirs: list[Path]) -> ThemeSet:
    """Later directories win on equal names, so a user theme can replace a bundled one."""
    out = ThemeSet()
    by_name: dict[str, Theme] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.y*ml")):
            try:
                theme = theme_from_yaml(path)
            except ThemeError as e:
                out.errors.append(str(e))
                continue
            by_name[theme.name] = theme
    out.themes = list(by_name.values())
    return out
