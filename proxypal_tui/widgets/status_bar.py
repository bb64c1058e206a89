"""The bottom line on every screen: engine state, address, uptime, CPU/RSS, dropped events, ledger trouble."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from proxy_engine.protocol import LedgerHealth
from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.engine_state import EngineState, EngineStatus
from proxypal_tui.core.process import ProcessUsage

_STATE_CLASS = {
    EngineState.READY: "state-ok",
    EngineState.STARTING: "state-busy",
    EngineState.LOCATING: "state-busy",
    EngineState.RESTARTING: "state-busy",
    EngineState.STOPPING: "state-busy",
    EngineState.DISCONNECTED: "state-warn",
    EngineState.BLOCKED: "state-bad",
    EngineState.CRASHED: "state-bad",
    EngineState.FAILED: "state-bad",
    EngineState.STOPPED: "state-warn",
}


class EngineStatusBar(Static):
    """Plain text; the app refreshes it on its timer, never per event."""

    COMPONENT_CLASSES = {"state-ok", "state-busy", "state-warn", "state-bad", "dim"}

    def show(
        self,
        status: EngineStatus,
        usage: ProcessUsage | None,
        dropped: int,
        uptime: float | None,
        paused: bool = False,
        ledger: LedgerHealth | None = None,
    ) -> None:
        """`ledger` is the engine's ledger health (from `stats`); it shows only when something is wrong."""
        state = Text(f" ● {status.state.value} ", style=self.get_component_rich_style(_STATE_CLASS[status.state]))
        dim = self.get_component_rich_style("dim")
        parts = [state]
        if status.listen:
            parts.append(Text(status.listen + " "))
        if uptime is not None:
            parts.append(Text(f"up {fmt.duration(uptime)} "))
        if usage is not None:
            parts.append(Text(f"cpu {usage.cpu_percent:.0f}% {fmt.megabytes(usage.rss_bytes)} "))
        elif status.pid is None and status.state is EngineState.READY:
            parts.append(Text("cpu — ", style=dim))
        if status.state is EngineState.READY:
            parts.append(Text("own " if status.owned else "attached ", style=dim))
        if dropped:
            parts.append(Text(f"dropped {fmt.count(dropped)} ", style=self.get_component_rich_style("state-warn")))
        parts.extend(self._ledger_parts(ledger))
        if paused:
            parts.append(Text("feed paused ", style=self.get_component_rich_style("state-warn")))
        self.update(Text.assemble(*parts, no_wrap=True, overflow="ellipsis"))

    def _ledger_parts(self, ledger: LedgerHealth | None) -> list[Text]:
        """Usage rows waiting for a disk that will not take them, and rows lost for good."""
        if not ledger:
            return []
        parts = []
        warn, bad = self.get_component_rich_style("state-warn"), self.get_component_rich_style("state-bad")
        if not ledger.ok:
            parts.append(Text(f"ledger unsaved {fmt.count(ledger.backlog)} ", style=warn))
        if lost := ledger.dropped:
            parts.append(Text(f"ledger lost {fmt.count(lost)} ", style=bad))
        return parts
