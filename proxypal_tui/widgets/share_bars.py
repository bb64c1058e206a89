"""Provider or model distribution as horizontal text bars (themed, no hard-coded colours)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from proxypal_tui.core.metrics import Share


class ShareBars(Static):
    COMPONENT_CLASSES = {"bar", "bar-empty", "dim"}

    def show(self, title: str, shares: list[Share]) -> None:
        width = max(10, self.size.width or 36)
        # Name, bar, " 100% 1234": names give way first so a line never wraps in a narrow column.
        name_w = max(4, min(16, max((len(s.name) for s in shares), default=4), width - 16))
        bar_w = max(4, width - name_w - 12)
        lines = [Text(title, style="bold")]
        if not shares:
            lines.append(Text("no requests yet", style=self.get_component_rich_style("dim")))
        for s in shares:
            filled = round(s.ratio * bar_w)
            name = s.name if len(s.name) <= name_w else s.name[: name_w - 1] + "…"
            line = Text(f"{name:<{name_w}} ")
            line.append("█" * filled, style=self.get_component_rich_style("bar"))
            line.append("░" * (bar_w - filled), style=self.get_component_rich_style("bar-empty"))
            line.append(f" {s.ratio * 100:4.0f}% {s.count:>4}")
            lines.append(line)
        self.update(Text("\n").join(lines))
