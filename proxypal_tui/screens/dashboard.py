"""Dashboard: KPI tiles (today and since engine start), the tightest quota window, sparklines, charts,
distribution, budgets."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Sparkline

from proxypal_tui.core import formatting as fmt
from proxypal_tui.core import metrics
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.widgets.charts import TimeChart
from proxypal_tui.widgets.kpi import KpiTile
from proxypal_tui.widgets.notices import OnboardingPanel
from proxypal_tui.widgets.share_bars import ShareBars

TILES = (  # short titles: six tiles must fit 80 columns
    ("requests", "Reqs"),
    ("tokens", "Tokens"),
    ("cost", "Cost≈"),
    ("avg", "Avg lat"),
    ("p95", "p95 lat"),
    ("errors", "Errors"),
)
NARROW_BELOW = 70
SPARKS = (("req", "req/min"), ("tok", "tokens/min"), ("cost", "cost/min"), ("lat", "latency"))


class DashboardScreen(ProxyPalScreen):
    TITLE_TEXT = "Dashboard"
    BINDINGS = []

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._drawn: tuple[int, ...] | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="dash", can_focus=True):
            yield OnboardingPanel(id="onboarding")
            yield Label("", id="kpi-caption")
            with Grid(id="kpis"):
                for key, title in TILES:
                    yield KpiTile(title, id=f"kpi-{key}")
            yield Label("", id="quota-tile")
            with Vertical(id="sparks"):
                for key, title in SPARKS:
                    with Horizontal(classes="spark-row"):
                        yield Label(title, classes="spark-label")
                        yield Sparkline([], id=f"spark-{key}", classes="spark")
                        yield Label("", id=f"spark-{key}-now", classes="spark-now")
            with Horizontal(id="shares"):
                yield ShareBars(id="share-providers", classes="share")
                yield ShareBars(id="share-models", classes="share")
            with Vertical(id="budgets"):
                for key in ("daily", "monthly"):
                    with Horizontal(classes="budget-row", id=f"budget-{key}"):
                        yield Label("", classes="budget-label")
                        yield ProgressBar(total=1.0, show_eta=False, classes="budget-bar")
            with Grid(id="charts"):
                yield TimeChart("Requests / min", "req", id="chart-req")
                yield TimeChart("Tokens / min", "tokens", id="chart-tok")
                yield TimeChart("Cost / hour (USD)", "$", id="chart-cost")
                yield TimeChart("Latency / min (ms)", "ms", id="chart-lat")

    def on_resize(self) -> None:
        """Below 70 columns the six tiles go in two rows of three, so their titles stay whole."""
        narrow = self.size.width < NARROW_BELOW
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self._drawn = None

    def redraw(self) -> None:
        session = self.session
        live = session.live
        now = session.now()
        key = (live.events_seen, live.usage_version, int(now) // 60, session.config.version, live.quota.version)
        if key == self._drawn:
            return
        self._drawn = key
        onboarding = session.show_onboarding()
        self.query_one(OnboardingPanel).display = onboarding
        if onboarding:
            self.query_one(OnboardingPanel).show(
                str(session.config_path), session.endpoint_listen(), session.config.client_keys_label
            )
        self._draw_kpis(now)
        self._draw_quota(now)
        self._draw_series(now)
        self._draw_shares()
        self._draw_budgets(now)

    def _draw_kpis(self, now: float) -> None:
        session = self.session
        live = session.live
        today_key = fmt.day_key(now)
        row = next((r for r in live.day_rows if str(r.get("key")) == today_key), None)
        midnight = _local_midnight(now)
        today_lat = [r.latency_ms for r in live.feed.finished_since(midnight) if r.latency_ms is not None]
        today = metrics.kpis_from_usage_row(row, metrics.p95(today_lat))
        run = metrics.kpis_from_stats(live.stats)
        up = session.engine_uptime()
        uptime = f"up {fmt.duration(up)}" if up is not None else "engine not running"
        if self.has_class("narrow"):
            caption = f"Today · since start ({uptime}) · cost est."
        else:
            caption = f"Today (top) · since engine start, {uptime} (bottom) · cost is estimated"
        self.query_one("#kpi-caption", Label).update(caption)
        values = {
            "requests": (fmt.count(today.requests), fmt.count(run.requests)),
            "tokens": (fmt.count(today.tokens), fmt.count(run.tokens)),
            "cost": (fmt.money(today.cost_usd), fmt.money(run.cost_usd)),
            "avg": (fmt.millis(today.avg_latency_ms), fmt.millis(run.avg_latency_ms)),
            "p95": (fmt.millis(today.p95_latency_ms), fmt.millis(run.p95_latency_ms)),
            "errors": (fmt.percent(today.error_rate), fmt.percent(run.error_rate)),
        }
        for key, (t, r) in values.items():
            self.query_one(f"#kpi-{key}", KpiTile).show(t, r)

    def _draw_quota(self, now: float) -> None:
        """The most used window across every account and how long until it resets; hidden with no readings."""
        tightest = self.session.live.quota.tightest(now)
        tile = self.query_one("#quota-tile", Label)
        tile.display = tightest is not None
        if tightest is not None:
            tile.update(tightest.text(now))
            tile.set_class(tightest.bar.used(now) >= 80, "over")

    def _draw_series(self, now: float) -> None:
        live = self.session.live
        series = metrics.per_minute_series(live.stats, now, ledger=live.ledger.minutes if live.ledger else None)
        lat_avg, lat_p95 = metrics.latency_per_minute(live.feed.finished_since(now - 3600), now)
        data = {"req": series.requests, "tok": series.tokens, "cost": series.cost, "lat": lat_avg}
        latest = {
            "req": fmt.count(series.requests[-1] if series.requests else 0),
            "tok": fmt.count(series.tokens[-1] if series.tokens else 0),
            "cost": fmt.money(series.cost[-1] if series.cost else 0),
            "lat": fmt.millis(lat_avg[-1] if lat_avg and lat_avg[-1] else None),
        }
        for key, values in data.items():
            self.query_one(f"#spark-{key}", Sparkline).data = values[-30:]
            self.query_one(f"#spark-{key}-now", Label).update(latest[key])
        self.query_one("#chart-req", TimeChart).show(series.minutes, {"requests": series.requests})
        self.query_one("#chart-tok", TimeChart).show(series.minutes, {"tokens": series.tokens})
        hours, cost = metrics.cost_per_hour(live.hour_rows, now)
        self.query_one("#chart-cost", TimeChart).show(hours, {"cost": cost})
        self.query_one("#chart-lat", TimeChart).show(series.minutes, {"avg": lat_avg, "p95": lat_p95})

    def _draw_shares(self) -> None:
        """Today's split from the ledger (so a restart keeps it), else the engine's since its start."""
        live = self.session.live
        stats = live.stats
        by_provider, by_model = (stats.by_provider, stats.by_model) if stats is not None else (None, None)
        if live.ledger is not None and live.ledger.day == fmt.day_key(self.session.now()):
            by_provider, by_model = dict(live.ledger.providers), dict(live.ledger.models)
        self.query_one("#share-providers", ShareBars).show("Providers", metrics.distribution(by_provider))
        self.query_one("#share-models", ShareBars).show("Models", metrics.distribution(by_model))

    def _draw_budgets(self, now: float) -> None:
        session = self.session
        live = session.live
        today_key = fmt.day_key(now)
        today_cost = sum(float(r.get("cost_usd") or 0) for r in live.day_rows if str(r.get("key")) == today_key)
        uses = {
            u.label.lower(): u
            for u in metrics.budget_uses(session.config.budgets, today_cost, metrics.month_cost(live.day_rows, now))
        }
        self.query_one("#budgets").display = bool(uses)
        for key in ("daily", "monthly"):
            row = self.query_one(f"#budget-{key}")
            use = uses.get(key)
            row.display = use is not None
            if use is None:
                continue
            row.query_one(Label).update(f"{use.label} budget {fmt.money(use.spent)} / {fmt.money(use.limit)}")
            bar = row.query_one(ProgressBar)
            bar.update(total=1.0, progress=min(1.0, use.ratio))
            bar.set_class(use.ratio >= 0.8, "over")


def _local_midnight(now: float) -> float:
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
