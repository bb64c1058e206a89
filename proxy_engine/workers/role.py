"""What a worker process knows about its place among the engine's workers.

A worker is an ordinary engine (`serve`) started by the supervisor with `--worker-index`: it
binds the shared port with SO_REUSEPORT, sends its events to the supervisor's fan-in socket
instead of serving its own, keeps budget spend in the shared map, and re-reads cooldowns
other workers set.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COOLDOWN_REFRESH_S = 0.5  # a cooldown set by one worker is honoured by the others within this


@dataclass(frozen=True)
class WorkerRole:
    index: int
    supervisor_pid: int
    fan_in: Path  # the supervisor's Unix socket that takes this worker's events
    spend_file: Path  # the shared budget spend map (`usage/shared_spend.py`)

    @property
    def header(self) -> str:
        return str(self.index)

    def ask_all_to_reload(self) -> None:
        """The supervisor passes SIGHUP on to every worker, so a reload asked of one reaches all."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.supervisor_pid, signal.SIGHUP)

    def siblings(self) -> list[dict[str, Any]]:
        """Every worker of this engine (for /v0/status), from the supervisor's children."""
        import psutil  # here, not at start: a single engine never needs it

        out = []
        try:
            children = psutil.Process(self.supervisor_pid).children()
        except psutil.Error:
            return out
        for child in children:
            try:
                args = child.cmdline()
            except psutil.Error:
                continue
            if "--worker-index" in args:
                index = args[args.index("--worker-index") + 1]
                out.append({"index": int(index), "pid": child.pid, "this": child.pid == os.getpid()})
        return sorted(out, key=lambda w: w["index"])
