"""Engine log lines (from `log` events and the child's stderr), bounded, filterable by level."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from proxy_engine.protocol import Log

LEVELS = ("debug", "info", "warning", "error")
_RANK = {name: i for i, name in enumerate(LEVELS)} | {"critical": 3, "stderr": 1, "warn": 2}


@dataclass(frozen=True, slots=True)
class LogLine:
    ts: float
    level: str
    logger: str
    message: str

    @classmethod
    def from_event(cls, ev: Log) -> LogLine:
        return cls(ts=ev.ts, level=ev.level, logger=ev.logger, message=ev.message)

    @property
    def rank(self) -> int:
        return _RANK.get(self.level, 1)


@dataclass
class Logbook:
    """Keeps the last `size` lines; `serial` numbers let a view append only what is new."""

    size: int = 2000
    serial: int = 0
    _lines: deque[tuple[int, LogLine]] = field(init=False)

    def __post_init__(self) -> None:
        self._lines = deque(maxlen=self.size)

    def add(self, line: LogLine) -> None:
        self.serial += 1
        self._lines.append((self.serial, line))

    def since(self, serial: int, min_level: str = "debug") -> list[tuple[int, LogLine]]:
        floor = _RANK.get(min_level, 0)
        return [(n, ln) for n, ln in self._lines if n > serial and ln.rank >= floor]

    def tail(self, n: int) -> list[LogLine]:
        return [ln for _, ln in list(self._lines)[-n:]]

    def clear(self) -> None:
        self._lines.clear()
