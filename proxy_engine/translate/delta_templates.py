"""Byte templates of an upstream's per-token stream events, so most events skip the full JSON parse.

A stream's token events differ only in one string: OpenAI chat's `delta.content`, Anthropic's
`delta.text` (or `partial_json`, `thinking`), Gemini's part `text`. Once an event has been parsed whole
and its decoder calls it a plain delta, the bytes before and after that string are kept as a template.
A later event with that exact prefix and suffix, and one valid JSON string literal in between, has the
same JSON structure with only that string changed (the tokens before and after are byte-identical, and
the lexer is outside any string at the seam: `_proved` checks that once per template), so its string is
decoded alone (`scanstring`, what `json.loads` uses) and the decoder turns it into IR events.
Anything else (another shape, bytes that are not UTF-8 or JSON) takes the full parse, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from json.decoder import scanstring
from typing import Any

from .json_text import loads

MAX_TEMPLATES = 4  # a stream has text, thinking and tool-argument deltas at most
MAX_LEARNS = 8  # an upstream whose token events vary elsewhere (a random pad) stops being learned
_MARK = "#~%"  # invalid JSON outside a string: the seam check fails loudly if the lexer was inside one


class DeltaSpec:
    """Where a plain delta's varying string is in its event (`path` of keys and indexes), what it means
    to the decoder (`kind`, and `key` for a tool call), and the template bytes around it once learned."""

    __slots__ = ("guard", "key", "kind", "path", "prefix", "suffix", "text_only")

    def __init__(
        self,
        kind: str,
        path: Sequence[str | int],
        key: object = None,
        *,
        text_only: bool = False,
        guard: Callable[[DeltaSpec], bool] | None = None,
    ) -> None:
        self.kind = kind
        self.path = tuple(path)
        self.key = key
        # The decoder gives exactly [TextDelta(value)] (nothing for "") and changes no state for this event
        # (while `guard`, when given, says so), so the stream may hand the value to the encoder directly.
        self.text_only = text_only
        self.guard = guard
        self.prefix = b""
        self.suffix = b""


class DeltaTemplates:
    """One per stream. `match` gives the spec and decoded string of an event that fits a template."""

    __slots__ = ("_learns", "_templates")

    def __init__(self) -> None:
        self._templates: list[DeltaSpec] = []
        self._learns = 0

    @property
    def specs(self) -> list[DeltaSpec]:
        """The templates learned so far, in the order they were learned."""
        return self._templates

    @property
    def learning(self) -> bool:
        return self._learns < MAX_LEARNS and len(self._templates) < MAX_TEMPLATES

    def match(self, data: bytes) -> tuple[DeltaSpec, str] | None:
        for spec in self._templates:
            if not data.startswith(spec.prefix) or not data.endswith(spec.suffix):
                continue
            try:
                middle = data[len(spec.prefix) : len(data) - len(spec.suffix)].decode()
                if middle[:1] != '"':  # also when the prefix and suffix overlap
                    return None
                value, end = scanstring(middle, 1, True)
            except ValueError:  # not UTF-8, or not one valid string literal: the full parse decides
                return None
            return (spec, value) if end == len(middle) else None
        return None

    def learn(self, data: bytes, event: dict, spec: DeltaSpec) -> None:
        """Keep the template of `data` (parsed as `event`), a plain delta whose string is at `spec.path`."""
        self._learns += 1
        key = spec.path[-1]
        if not isinstance(key, str):
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return
        value = _at(event, spec.path)
        if value == _MARK:  # the probe would be the event itself and prove nothing
            return
        start = text.find(f'"{key}"')
        while start != -1:
            seam = text.find('"', start + len(key) + 2)
            if seam != -1 and text[start + len(key) + 2 : seam].strip() == ":":
                try:
                    found, end = scanstring(text, seam + 1, True)
                except ValueError:
                    return
                if found == value:
                    spec.prefix, spec.suffix = text[:seam].encode(), text[end:].encode()
                    if _proved(spec):
                        self._templates.append(spec)
                    return
            start = text.find(f'"{key}"', start + 1)


def _at(obj: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        obj = obj[step]
    return obj


def _proved(spec: DeltaSpec) -> bool:
    """The template with a marker string in its slot parses, with the marker at `path`. Only the seam's
    token differs from the event (the lexer is outside a string there, or the marker's `#` would not
    parse), and the value at `path` changed, so that token is the value at `path`: any string literal
    there means the event with that string."""
    try:
        probe = loads(spec.prefix + f'"{_MARK}"'.encode() + spec.suffix)
        return _at(probe, spec.path) == _MARK
    except (ValueError, LookupError, TypeError):  # not JSON, or the path is gone: the seam was elsewhere
        return False
