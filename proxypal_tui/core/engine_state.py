"""What the user sees of the engine's life: one immutable status value per change."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EngineState(StrEnum):
    LOCATING = "locating"  # looking for an engine serving this config
    STARTING = "starting"  # spawned, waiting for hello + /healthz
    READY = "ready"
    DISCONNECTED = "disconnected"  # lost an attached engine; looking again
    CRASHED = "crashed"
    RESTARTING = "restarting"  # waiting out the backoff before the next start
    FAILED = "failed"  # gave up after repeated crashes
    BLOCKED = "blocked"  # the port is held by another program
    STOPPING = "stopping"
    STOPPED = "stopped"  # stopped on request, or nothing to attach to


@dataclass(frozen=True)
class EngineStatus:
    state: EngineState
    owned: bool = False  # True only for an engine this TUI started
    pid: int | None = None
    listen: str | None = None
    config_path: str | None = None
    uptime_s: float | None = None  # the engine's uptime when it became ready (it may predate us)
    message: str = ""
    log_tail: tuple[str, ...] = field(default_factory=tuple)
    crashes: int = 0
    retry_in: float | None = None
    version: str | None = None

    @property
    def running(self) -> bool:
        return self.state is EngineState.READY


@dataclass(frozen=True)
class Backoff:
    """Exponential restart delays; a run that stayed up `stable_after` seconds resets the count."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    max_crashes: int = 5
    stable_after: float = 60.0

    def delay(self, crashes: int) -> float:
        return min(self.cap, self.base * self.factor ** max(0, crashes - 1))
