"""Engine log lines (from `log` events and the child's stderr), bounded, filterable by level."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from proxy_engine.protocol import Log

LEVELS = ("debug", "info", "warning", "error")
_RANK = {name: i for i, name in enumerate(LEVELS)} | {"critical": 3, "stderr": 1, "warn": 2}
# The engine's stderr handler writes "LEVEL logger: message" (proxy_engine/logs.py).
_STDERR_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): (.*)$")
SAME_LINE_WINDOW_S = 10.0  # a log event and its stderr twin arrive within this of each other


@dataclass(frozen=True, slots=True)
class LogLine:
    ts: float
    level: str
    logger: str
    message: str
    source: str = "event"  # "event" (the events socket), "stderr" (the child's stderr) or "tui"

    @classmethod
    def from_event(cls, ev: Log) -> LogLine:
        return cls(ts=ev.ts, level=ev.level, logger=ev.logger, message=ev.message)

    @classmethod
    def from_stderr(cls, ts: float, text: str, previous_level: str = "info") -> LogLine:
        """A stderr line at its own level; a line that is not a log record (a traceback's) keeps the last level."""
        m = _STDERR_LINE.match(text)
        if m is None:
            return cls(ts=ts, level=previous_level, logger="engine", message=text, source="stderr")
        return cls(ts=ts, level=m[1].lower(), logger=m[2], message=m[3], source="stderr")

    @property
    def rank(self) -> int:
        return _RANK.get(self.level, 1)

    @property
    def key(self) -> tuple[str, str]:
        return (self.logger, self.message)


@dataclass
class Logbook:
    """Keeps the last `size` lines; `serial` numbers let a view append only what is new."""

    size: int = 2000
    serial: int = 0
    _lines: deque[tuple[int, LogLine]] = field(init=False)
    _last_stderr_level: str = field(init=False, default="info")

    def __post_init__(self) -> None:
        self._lines = deque(maxlen=self.size)
        self._unmatched: deque[LogLine] = deque(maxlen=200)  # recent event/stderr lines awaiting their twin

    def add(self, line: LogLine) -> None:
        """Append, unless it is the twin of a recent line from the other source (the engine logs both ways)."""
        if line.source in ("event", "stderr") and self._take_twin(line):
            return
        self.serial += 1
        self._lines.append((self.serial, line))
        if line.source in ("event", "stderr"):
            self._unmatched.append(line)

    def add_stderr(self, ts: float, text: str) -> None:
        self.add(LogLine.from_stderr(ts, text, self._last_stderr_level))
        if _STDERR_LINE.match(text):
            self._last_stderr_level = text.split(" ", 1)[0].lower()

    def _take_twin(self, line: LogLine) -> bool:
        for other in self._unmatched:
            if other.source != line.source and other.key == line.key and abs(other.ts - line.ts) <= SAME_LINE_WINDOW_S:
                self._unmatched.remove(other)
                return True
        return False

    def since(self, serial: int, min_level: str = "debug") -> list[tuple[int, LogLine]]:
        floor = _RANK.get(min_level, 0)
        return [(n, ln) for n, ln in self._lines if n > serial and ln.rank >= floor]

    def tail(self, n: int) -> list[LogLine]:
        return [ln for _, ln in list(self._lines)[-n:]]

    def clear(self) -> None:
        self._lines.clear()
