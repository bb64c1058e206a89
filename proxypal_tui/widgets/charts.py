"""A time-series chart (textual-plotext): its own `plt`, theme "auto", no global plotext state."""

from __future__ import annotations

import time

from textual_plotext import PlotextPlot


class TimeChart(PlotextPlot):
    def __init__(self, title: str, unit: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="chart")
        self._title = title
        self._unit = unit

    def show(self, xs: list[float], series: dict[str, list[float]], time_format: str = "%H:%M") -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self._title)
        labels = [time.strftime(time_format, time.localtime(x)) for x in xs]
        positions = list(range(len(xs)))
        for name, ys in series.items():
            plt.plot(positions, ys, label=name if len(series) > 1 else None, marker="braille")
        if positions:
            step = max(1, len(positions) // 4)
            ticks = positions[::step]
            plt.xticks(ticks, [labels[i] for i in ticks])
        top = max((max(ys, default=0.0) for ys in series.values()), default=0.0)
        plt.ylim(0, top * 1.1 if top > 0 else 1)  # counts and costs are never negative
        plt.ylabel(self._unit)
        self.refresh()
