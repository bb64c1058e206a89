"""The Prometheus view of `tally.py`'s counts: a collector prometheus_client asks at each scrape.

Imported on the first scrape only; samples and names are those prometheus_client's own Counter and
Histogram give (`_total`, `_created`, `_bucket`, `_count`, `_sum`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from proxy_engine.metrics.tally import CounterTally, HistogramTally


class TallyCollector:
    """Reads the tallies at collect time; nothing is copied between scrapes."""

    def __init__(self, counters: tuple[CounterTally, ...], histograms: tuple[HistogramTally, ...]) -> None:
        self.counters, self.histograms = counters, histograms

    def collect(self) -> Iterator[Metric]:
        for c in self.counters:
            fam = CounterMetricFamily(c.name, c.doc, labels=c.labels)
            for key, value in list(c.values.items()):
                fam.add_metric(key, value, created=c.created.get(key))
            yield fam
        for h in self.histograms:
            fam = HistogramMetricFamily(h.name, h.doc, labels=h.labels)
            for key, counts in list(h.counts.items()):
                cumulative, buckets = 0, []
                for bound, n in zip(h.bounds, counts, strict=True):
                    cumulative += n
                    buckets.append((floatToGoString(bound), cumulative))
                fam.add_metric(key, buckets, h.sums.get(key, 0.0))
                if (created := h.created.get(key)) is not None:
                    fam.samples.append(Sample(f"{h.name}_created", dict(zip(h.labels, key, strict=True)), created))
            yield fam


def tally_registry(counters: tuple[CounterTally, ...], histograms: tuple[HistogramTally, ...]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(TallyCollector(counters, histograms))  # type: ignore[arg-type]
    return registry
