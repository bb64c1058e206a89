"""Minimal-edit JSON (and JSONC) documents.

Tools' settings files are hand-edited by users, so re-serialising them would
reflow their formatting and drop comments. Instead we parse the text into spans
and splice only the values we own; every other byte stays where it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any

from proxypal_tui.tools.model import ToolError

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}


@dataclass
class _Node:
    start: int
    end: int
    value: Any
    members: list[_Member] = field(default_factory=list)  # objects only


@dataclass
class _Member:
    key: str
    key_start: int
    node: _Node


class _Parser:
    def __init__(self, text: str, label: str):
        self.text, self.label, self.pos = text, label, 0

    def fail(self, why: str) -> ToolError:
        line = self.text.count("\n", 0, self.pos) + 1
        return ToolError(f"{self.label} is not valid JSON (line {line}: {why}); fix it, ProxyPal will not overwrite it")

    def skip(self) -> None:
        """Skip whitespace and // or /* */ comments (JSONC, as VS Code-style tools accept)."""
        t = self.text
        while self.pos < len(t):
            c = t[self.pos]
            if c in " \t\r\n\ufeff":
                self.pos += 1
            elif t.startswith("//", self.pos):
                nl = t.find("\n", self.pos)
                self.pos = len(t) if nl < 0 else nl
            elif t.startswith("/*", self.pos):
                close = t.find("*/", self.pos + 2)
                if close < 0:
                    raise self.fail("unclosed comment")
                self.pos = close + 2
            else:
                return

    def value(self) -> _Node:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file")
        c, start = self.text[self.pos], self.pos
        if c == "{":
            return self._object()
        if c == "[":
            return self._array()
        if c == '"':
            s, self.pos = self._string()
            return _Node(start, self.pos, s)
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return _Node(start, self.pos, json.loads(m.group()))
        for word, val in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return _Node(start, self.pos, val)
        raise self.fail(f"unexpected {c!r}")

    def _string(self) -> tuple[str, int]:
        try:
            return scanstring(self.text, self.pos + 1)
        except json.JSONDecodeError as e:
            raise self.fail(e.msg) from None

    def _object(self) -> _Node:
        node = _Node(self.pos, -1, {})
        self.pos += 1
        while True:
            self.skip()
            if self._take("}"):
                node.end = self.pos
                return node
            if self.text[self.pos : self.pos + 1] != '"':
                raise self.fail("expected a quoted key")
            key_start = self.pos
            key, self.pos = self._string()
            self.skip()
            if not self._take(":"):
                raise self.fail("expected ':'")
            child = self.value()
            node.members.append(_Member(key, key_start, child))
            node.value[key] = child.value
            self.skip()
            if not self._take(",") and self.text[self.pos : self.pos + 1] != "}":
                raise self.fail("expected ',' or '}'")

    def _array(self) -> _Node:
        node = _Node(self.pos, -1, [])
        self.pos += 1
        while True:
            self.skip()
            if self._take("]"):
                node.end = self.pos
                return node
            node.value.append(self.value().value)
            self.skip()
            if not self._take(",") and self.text[self.pos : self.pos + 1] != "]":
                raise self.fail("expected ',' or ']'")

    def _take(self, ch: str) -> bool:
        if self.text[self.pos : self.pos + 1] == ch:
            self.pos += 1
            return True
        return False


def parse_jsonc(text: str, label: str = "file") -> Any:
    """The plain Python value of a JSON/JSONC text (comments and trailing commas allowed)."""
    return _parse(text, label).value


def _parse(text: str, label: str) -> _Node:
    p = _Parser(text, label)
    root = p.value()
    p.skip()
    if p.pos != len(text):
        raise p.fail("extra text after the document")
    return root


class JsonDocument:
    """A JSON/JSONC text that can be edited key by key without touching anything else."""

    def __init__(self, text: str, label: str = "file"):
        self.label = label
        self.text = text if text.strip() else "{}\n"
        self._root = _parse(self.text, label)
        if not isinstance(self._root.value, dict):
            raise ToolError(f"{label} must hold a JSON object at the top level")
        self.unit = _indent_unit(self.text)
        self.nl = "\r\n" if "\r\n" in self.text else "\n"

    @property
    def data(self) -> dict[str, Any]:
        return self._root.value

    def get(self, *path: str) -> Any:
        cur: Any = self.data
        for key in path:
            if not isinstance(cur, dict) or key not in cur:
                return None
            cur = cur[key]
        return cur

    def set(self, path: tuple[str, ...], value: Any) -> None:
        """Set path to value, creating parent objects; a no-op when the value is already equal."""
        node = self._root
        for depth, key in enumerate(path):
            member = next((m for m in node.members if m.key == key), None)
            last = depth == len(path) - 1
            if member is None:
                self._insert(node, key, _nest(path[depth + 1 :], value))
                return
            if last or not isinstance(member.node.value, dict):
                target = value if last else _nest(path[depth + 1 :], value)
                if member.node.value != target or type(member.node.value) is not type(target):
                    self._replace(member, target)
                return
            node = member.node

    def _splice(self, start: int, end: int, new: str) -> None:
        self.text = self.text[:start] + new + self.text[end:]
        self._root = _parse(self.text, self.label)

    def _replace(self, member: _Member, value: Any) -> None:
        indent = _line_indent(self.text, member.key_start)
        self._splice(member.node.start, member.node.end, self._dump(value, indent))

    def _insert(self, obj: _Node, key: str, value: Any) -> None:
        t = self.text
        if not obj.members:
            outer = _line_indent(t, obj.start)
            inner = outer + self.unit
            entry = f"{self.nl}{inner}{json.dumps(key)}: {self._dump(value, inner)}{self.nl}{outer}"
            self._splice(obj.start + 1, obj.start + 1, entry)
            return
        last = obj.members[-1]
        indent = _line_indent(t, last.key_start)
        if t[last.key_start - len(indent) - 1 : last.key_start - len(indent)] not in ("\n", ""):
            indent = _line_indent(t, obj.start) + self.unit  # members share a line: start a fresh one
        entry = f"{json.dumps(key)}: {self._dump(value, indent)}"
        pos = last.node.end
        after = _skip_blank_and_comments(t, pos)
        if t[after : after + 1] == ",":  # JSONC trailing comma: keep that style
            eol = _end_of_line_comments(t, after + 1)
            self._splice(eol, eol, f"{self.nl}{indent}{entry},")
        else:
            eol = _end_of_line_comments(t, pos)
            self._splice(pos, eol, f",{t[pos:eol]}{self.nl}{indent}{entry}")

    def _dump(self, value: Any, base_indent: str) -> str:
        text = json.dumps(value, indent=self.unit, ensure_ascii=False)
        return text.replace("\n", self.nl + base_indent)


def _nest(path: tuple[str, ...], value: Any) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


def _indent_unit(text: str) -> str:
    m = re.search(r"^([ \t]+)\S", text, re.MULTILINE)
    return m.group(1) if m else "  "


def _line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    line = text[start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _skip_blank_and_comments(text: str, pos: int) -> int:
    p = _Parser(text, "")
    p.pos = pos
    p.skip()
    return p.pos


def _end_of_line_comments(text: str, pos: int) -> int:
    """Position just before the newline, past any comments on the same line as pos."""
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if text.startswith("//", pos):
            nl = text.find("\n", pos)
            return len(text) if nl < 0 else nl
        if text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0 or "\n" in text[pos:close]:
                return pos
            pos = close + 2
            continue
        return pos if text[pos : pos + 1] in ("\n", "\r", "") else _back_to_value(text, pos)


def _back_to_value(text: str, pos: int) -> int:
    # Something else follows on the same line (e.g. `"a": 1, "b": 2`): insert right here.
    while pos > 0 and text[pos - 1] in " \t":
        pos -= 1
    return pos
