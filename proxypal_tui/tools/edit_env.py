""".env files edited line by line: only the lines for our keys change, the rest stay as written."""

from __future__ import annotations

import re

_SAFE = re.compile(r"^[A-Za-z0-9_./:@+\-=,]*$")


def _line_re(key: str) -> re.Pattern[str]:
    return re.compile(rf"^(?P<lead>\s*(?:export\s+)?){re.escape(key)}\s*=(?P<value>.*)$")


def read_env(text: str) -> dict[str, str]:
    """KEY -> value (later lines win, like dotenv loaders), quotes and trailing comments removed."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", line)
        if m:
            out[m.group(1)] = _unquote(m.group(2))
    return out


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ('"', "'"):
        q = raw[0]
        end = raw.find(q, 1)
        return raw[1:end] if end > 0 else raw[1:]
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def _render(value: str) -> str:
    if _SAFE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_env(text: str, values: dict[str, str]) -> str:
    """Return text with each key set: its last existing line is rewritten, otherwise one is appended."""
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    for key, value in values.items():
        pat = _line_re(key)
        idx = next((i for i in range(len(lines) - 1, -1, -1) if pat.match(lines[i].rstrip("\r\n"))), None)
        if idx is not None and _unquote(pat.match(lines[idx].rstrip("\r\n")).group("value")) == value:
            continue
        rendered = f"{key}={_render(value)}"
        if idx is None:
            if lines and not lines[-1].endswith(("\n", "\r")):
                lines[-1] += nl
            lines.append(rendered + nl)
        else:
            body = lines[idx].rstrip("\r\n")
            ending = lines[idx][len(body) :]
            lines[idx] = pat.match(body).group("lead") + rendered + ending
    return "".join(lines)
