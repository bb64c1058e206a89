"""Minimal-edit YAML documents, located with ruamel.yaml's round-trip loader.

ruamel.yaml keeps comments, but dumping a whole document still re-indents the
parts we never touched. So we use its line/column marks to splice only our keys
and list items into the user's text, re-parse to prove the result means what we
intended, and fall back to a full ruamel round-trip dump only when a splice
cannot be done safely (flow collections, multi-line scalars).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from proxypal_tui.tools.model import ToolError

Scalar = str | int | float | bool
Item = dict[str, Scalar | list[Scalar]]


def _loader() -> YAML:
    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.width = 4096
    return y


def load_yaml(text: str, label: str) -> Any:
    try:
        return _loader().load(text) if text.strip() else CommentedMap()
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ToolError(f"{label} is not valid YAML{where}; fix it, ProxyPal will not overwrite it") from None


def plain(value: Any) -> Any:
    """ruamel containers -> dict/list/str so they compare with our intended values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def render_scalar(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if value and not value[0].isspace() and _reads_back_plain(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reads_back_plain(value: str) -> bool:
    try:
        return pyyaml.safe_load(f"k: {value}") == {"k": value}
    except pyyaml.YAMLError:
        return False


def _render_value(value: Scalar | list[Scalar]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(render_scalar(v) for v in value) + "]"
    return render_scalar(value)


def render_items(items: list[Item], dash_col: int, offset: int, flow: bool = False) -> list[str]:
    out = []
    for item in items:
        if flow:
            body = ", ".join(f"{k}: {_render_value(v)}" for k, v in item.items())
            out.append(" " * dash_col + "-" + " " * (offset - 1) + "{" + body + "}")
            continue
        for n, (k, v) in enumerate(item.items()):
            lead = " " * dash_col + "-" + " " * (offset - 1) if n == 0 else " " * (dash_col + offset)
            out.append(f"{lead}{k}: {_render_value(v)}")
    return out


class YamlDocument:
    """A YAML mapping document whose top-level keys and list items we can set in place."""

    def __init__(self, text: str, label: str = "file"):
        self.label = label
        self.text = text
        self.nl = "\r\n" if "\r\n" in text else "\n"
        self.data = load_yaml(text, label)
        if self.data is None:  # only comments so far
            self.data = CommentedMap()
        if not isinstance(self.data, dict):
            raise ToolError(f"{label} must hold a mapping at the top level")

    # ---- public edits -------------------------------------------------------------------
    def set_scalar(self, key: str, value: Scalar) -> None:
        """Set a top-level key to a scalar, keeping its line, quoting and trailing comment."""
        current = self.data.get(key)
        if key in self.data and plain(current) == value and type(plain(current)) is type(value):
            return
        if key not in self.data and not self._is_flow_root():
            self._splice_lines(len(self._lines()), [f"{key}: {render_scalar(value)}"])
        elif not self._replace_scalar_token(key, value):
            self._fallback(lambda d: d.__setitem__(key, value))
        self._verify(key, value)

    def replace_items(self, key: str, is_ours: Callable[[Any], bool], items: list[Item]) -> None:
        """Make the items of top-level list `key` that is_ours() selects equal `items`, in place."""
        seq = self.data.get(key)
        ours: list[int] = []
        if isinstance(seq, list):
            ours = [i for i, it in enumerate(seq) if is_ours(it)]
            if [plain(seq[i]) for i in ours] == items:
                return
        expected = self._expected_list(seq, ours, items)
        if not self._splice_items(key, seq, ours, items):
            self._fallback(lambda d: _replace_in_data(d, key, is_ours, items))
        self._verify(key, expected)

    # ---- splicing -----------------------------------------------------------------------
    def _lines(self) -> list[str]:
        return self.text.splitlines(keepends=True)

    def _splice_lines(self, at: int, new: list[str], remove: int = 0) -> None:
        lines = self._lines()
        if at > 0 and at == len(lines) and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += self.nl
        lines[at : at + remove] = [line + self.nl for line in new]
        self.text = "".join(lines)
        self._reload()

    def _reload(self) -> None:
        self.data = load_yaml(self.text, self.label)
        if self.data is None:
            self.data = CommentedMap()

    def _is_flow_root(self) -> bool:
        return isinstance(self.data, CommentedMap) and self.data.fa.flow_style()

    def _replace_scalar_token(self, key: str, value: Scalar) -> bool:
        current = self.data.get(key)
        if isinstance(current, dict | list) or current is None or self._is_flow_root():
            return False
        line_no, col = self.data.lc.value(key)
        lines = self._lines()
        line = lines[line_no]
        body = line.rstrip("\r\n")
        end = _token_end(body, col)
        if end is None:
            return False
        quote = body[col]
        if quote == '"':
            token = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif quote == "'":
            token = "'" + str(value).replace("'", "''") + "'"
        else:
            token = render_scalar(value)
        lines[line_no] = body[:col] + token + body[end:] + line[len(body) :]
        self.text = "".join(lines)
        self._reload()
        return True

    def _splice_items(self, key: str, seq: Any, ours: list[int], items: list[Item]) -> bool:
        if self._is_flow_root():
            return False
        if key not in self.data:
            self._splice_lines(len(self._lines()), [f"{key}:", *render_items(items, 2, 2)])
            return True
        key_line, _ = self.data.lc.key(key)
        if seq is None or (isinstance(seq, CommentedSeq) and seq.fa.flow_style() and not seq):
            lines = self._lines()
            head = lines[key_line].rstrip("\r\n")
            if not re.match(rf"^{re.escape(key)}\s*:\s*(\[\s*\])?\s*(#.*)?$", head):
                return False
            new_head = re.sub(r":\s*(\[\s*\])?\s*", ": " if "#" in head else ":", head, count=1).rstrip()
            lines[key_line] = new_head + lines[key_line][len(head) :]
            self.text = "".join(lines)
            self._splice_lines(key_line + 1, render_items(items, 2, 2))
            return True
        if not isinstance(seq, CommentedSeq) or seq.fa.flow_style() or not seq:
            return False
        ranges = self._item_ranges(seq)
        if ranges is None:
            return False
        dash_col, offset, flow = ranges[0][2], ranges[0][3], ranges[0][4]
        new = render_items(items, dash_col, offset, flow)
        # Removing bottom-up never moves the first removed item's start, where ours go back in.
        at = ranges[ours[0]][0] if ours else ranges[-1][1]
        lines = self._lines()
        for i in reversed(ours):
            del lines[ranges[i][0] : ranges[i][1]]
        self.text = "".join(lines)
        self._splice_lines(at, new)
        return True

    def _item_ranges(self, seq: CommentedSeq) -> list[tuple[int, int, int, int, bool]] | None:
        """(first line, end line exclusive, dash column, content offset, flow map) for each item."""
        lines = [ln.rstrip("\r\n") for ln in self._lines()]
        starts = []
        for i in range(len(seq)):
            line_no, col = seq.lc.item(i)
            dash = lines[line_no].rfind("-", 0, col)
            if dash < 0 or lines[line_no][:dash].strip():
                return None
            flow = isinstance(seq[i], CommentedMap) and bool(seq[i].fa.flow_style())
            starts.append((line_no, dash, col - dash, flow))
        out = []
        for i, (line_no, dash, offset, flow) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else _block_end(lines, line_no + 1, dash)
            while end > line_no + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
                end -= 1
            out.append((line_no, end, dash, offset, flow))
        return out

    # ---- safety net ---------------------------------------------------------------------
    def _expected_list(self, seq: Any, ours: list[int], items: list[Item]) -> list[Any]:
        current = [plain(x) for x in seq] if isinstance(seq, list) else []
        if not ours:
            return current + items
        kept = [x for i, x in enumerate(current) if i not in ours]
        return kept[: ours[0]] + items + kept[ours[0] :]

    def _verify(self, key: str, expected: Any) -> None:
        if plain(self.data.get(key)) != expected:
            raise ToolError(f"could not update {key!r} in {self.label} safely; edit it by hand")

    def _fallback(self, mutate: Callable[[Any], None]) -> None:
        _, indent, seq_indent = load_yaml_guess_indent(self.text) if self.text.strip() else (None, 2, 0)
        y = _loader()
        y.indent(mapping=indent or 2, sequence=indent or 2, offset=seq_indent or 0)
        data = load_yaml(self.text, self.label) or CommentedMap()
        mutate(data)
        out = io.StringIO()
        y.dump(data, out)
        self.text = out.getvalue()
        self._reload()


def _replace_in_data(data: Any, key: str, is_ours: Callable[[Any], bool], items: list[Item]) -> None:
    seq = data.get(key)
    if not isinstance(seq, list):
        data[key] = CommentedSeq()
        seq = data[key]
    idx = [i for i, it in enumerate(seq) if is_ours(it)]
    at = idx[0] if idx else len(seq)
    for i in reversed(idx):
        del seq[i]
    for n, item in enumerate(items):
        seq.insert(at + n, CommentedMap(item))


def _token_end(body: str, col: int) -> int | None:
    """End column of the scalar token starting at col, or None if it is not a one-line scalar."""
    if col >= len(body):
        return None
    q = body[col]
    if q in "|>":
        return None
    if q == '"':
        i = col + 1
        while i < len(body):
            if body[i] == "\\":
                i += 2
                continue
            if body[i] == '"':
                return i + 1
            i += 1
        return None
    if q == "'":
        i = col + 1
        while i < len(body):
            if body[i] == "'":
                if body[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        return None
    m = re.search(r"\s+#", body[col:])
    return len((body[col : col + m.start()] if m else body[col:]).rstrip()) + col


def _block_end(lines: list[str], start: int, dash_col: int) -> int:
    for n in range(start, len(lines)):
        text = lines[n]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        indent = len(text) - len(text.lstrip(" "))
        if indent <= dash_col:
            return n
    return len(lines)
