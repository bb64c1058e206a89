"""Counters and histograms as plain dicts keyed by label values: what /metrics exposes, kept without
prometheus_client so an engine that is never scraped does not load it (`exposition.py` reads these)."""

from __future__ import annotations

import math
import time
from bisect import bisect_left


class CounterTally:
    """A counter family: one running total (and its creation time) per tuple of label values."""

    __slots__ = ("created", "doc", "labels", "name", "values")

    def __init__(self, name: str, doc: str, labels: tuple[str, ...]) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.values: dict[tuple[str, ...], float] = {}
        self.created: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        """As prometheus_client's Counter: a negative amount is a ValueError (and counts nothing)."""
        if amount < 0:
            raise ValueError("counters can only be increased by non-negative amounts")
        value = self.values.get(key)
        if value is None:
            self.created[key] = time.time()
            value = 0.0
        self.values[key] = value + amount


class HistogramTally:
    """A histogram family: per tuple of label values, the count in each bucket (not cumulative) and the sum."""

    __slots__ = ("bounds", "counts", "created", "doc", "labels", "name", "sums")

    def __init__(self, name: str, doc: str, labels: tuple[str, ...], bounds: tuple[float, ...]) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.bounds = (*bounds, math.inf)
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = {}
        self.created: dict[tuple[str, ...], float] = {}

    def observe(self, key: tuple[str, ...], value: float) -> None:
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = [0] * len(self.bounds)
            self.sums[key] = 0.0
            self.created[key] = time.time()
        counts[bisect_left(self.bounds, value)] += 1  # the first bucket whose bound is >= value
        self.sums[key] += value
