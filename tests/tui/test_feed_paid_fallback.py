"""The request feed marks a request that failover moved from a subscription or free provider to a paid one."""

from __future__ import annotations

from textual.app import App, ComposeResult

from proxy_engine.protocol import RequestFinished
from proxypal_tui.core.feed import FeedRow
from proxypal_tui.screens.requests import detail_text
from proxypal_tui.widgets.feed_view import RequestFeedView


def _row(rid: str, paid_fallback: bool) -> FeedRow:
    ev = RequestFinished.from_dict({"type": "request.finished", "id": rid, "ts_start": 1_760_000_000.0,
                                    "model_requested": "Smart", "provider": "openai", "model": "gpt-4o",
                                    "status": 200, "attempts": 2, "paid_fallback": paid_fallback})  # fmt: skip
    return FeedRow.from_finished(ev)


class FeedApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RequestFeedView(id="feed")


async def test_the_feed_row_and_detail_mark_a_paid_fallback():
    app = FeedApp()
    async with app.run_test(size=(120, 10)) as pilot:
        feed = app.query_one(RequestFeedView)
        feed.set_rows([_row("paid-one", True), _row("plain-one", False)])
        await pilot.pause()
        marked, plain = feed.render_line(1).text, feed.render_line(2).text
    assert " $openai " in marked
    assert " openai " in plain and "$" not in plain
    assert "paid fallback" in detail_text(_row("paid-one", True)).plain
    assert "paid fallback" not in detail_text(_row("plain-one", False)).plain
