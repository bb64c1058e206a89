"""`GET /metrics` in the real engine: Prometheus text with requests, errors, tokens, cost and latency by
provider, model and member after real traffic, quota and cooldown gauges; guarded like /v0 unless opened."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy_engine.metrics.registry import MAX_VALUES, RequestMetrics
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes import quota_headers as qh
from tests.fakes.script import Usage
from tests.team.members import api_create, chat

PRICES = "prices: {gpt-4o-mini: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"


@pytest.fixture(scope="module")
def fake():
    with FakeServerThread(FakeOpenAI()) as fo:
        yield fo


def _engine(fake, extra: str = "") -> EngineProcess:
    port = free_port()
    config = f'port: {port}\nproviders:\n  openai: {{base_url: "{fake.base_url}", api_key: env:OK}}\n{PRICES}{extra}'
    return EngineProcess(config, port)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, keyed by name and sorted labels (parsed by prometheus-client's own parser)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}  # fmt: skip


def test_metrics_count_traffic_by_provider_model_and_member(fake):
    fake.reset()
    fake.script(usage=Usage(input_tokens=100, output_tokens=100), headers=qh.openai_api((100, 75), (10000, 5000)))
    with _engine(fake) as eng:
        alice = api_create(eng, name="alice")
        for _ in range(3):
            assert chat(eng, alice["key"]).status_code == 200
        assert chat(eng, "local-key").status_code == 200
        fake.script(status=500)
        assert chat(eng, alice["key"]).status_code == 500  # passed through as the upstream sent it
        r = eng.api("GET", "/metrics")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
        s = samples(r.text)
        quota = eng.api("GET", "/v0/quota").json()["credentials"]
    windows = [(c["credential"], w) for c in quota for w in c["windows"]]
    assert windows, "the quota headers were read"
    for cred, w in windows:
        labels = (("credential", cred), ("provider", "openai"), ("window", w["name"]))
        assert s[("proxypal_quota_used_percent", labels)] == pytest.approx(w["used_percent"])
        assert s[("proxypal_quota_exhausted", labels)] == (1.0 if w["exhausted"] else 0.0)
    who = (("member", alice["id"]), ("model", "gpt-4o-mini"), ("provider", "openai"))
    assert s[("proxypal_requests_total", (*who[:2], who[2], ("status", "2xx")))] == 3
    assert s[("proxypal_requests_total", (("member", "local"), *who[1:], ("status", "2xx")))] == 1
    assert s[("proxypal_requests_total", (*who, ("status", "5xx")))] == 1
    errors = {k: v for k, v in s.items() if k[0] == "proxypal_request_errors_total"}
    assert list(errors.values()) == [1] and dict(next(iter(errors))[1])["member"] == alice["id"]
    tokens = (("kind", "input"), *who[:1], *who[1:])
    assert s[("proxypal_tokens_total", tuple(sorted(tokens)))] == 300
    assert s[("proxypal_cost_usd_total", who)] == pytest.approx(0.6)
    assert s[("proxypal_request_duration_seconds_count", (("model", "gpt-4o-mini"), ("provider", "openai")))] == 5
    assert s[("proxypal_credential_cooldowns", (("provider", "openai"),))] == 1, "the 500 cooled the key"
    assert s[("proxypal_in_flight_requests", ())] == 0


def test_metrics_are_guarded_like_v0_unless_opened(fake):
    with _engine(fake) as eng:
        member = api_create(eng, name="m")
        assert httpx.get(eng.url + "/metrics", timeout=10).status_code == 401
        wrong = httpx.get(eng.url + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        as_member = httpx.get(eng.url + "/metrics", headers={"Authorization": f"Bearer {member['key']}"}, timeout=10)
        assert as_member.status_code == 403
    with _engine(fake, "metrics: {open: true}\n") as eng:
        r = httpx.get(eng.url + "/metrics", timeout=10)
        assert r.status_code == 200 and "proxypal_in_flight_requests" in r.text


def test_label_values_are_bounded():
    """A client sending a thousand model names makes at most MAX_VALUES series, plus "other"."""
    m = RequestMetrics()
    for i in range(1000):
        m.note({"provider": "openai", "model": f"m{i}", "client": "c", "status": 200, "latency_ms": 5.0})
    m.drain()
    from prometheus_client import generate_latest

    s = samples(generate_latest(m.registry).decode())
    models = {dict(k[1])["model"] for k in s if k[0] == "proxypal_requests_total"}
    assert len(models) == MAX_VALUES + 1 and "other" in models
    other = s[("proxypal_requests_total", (("member", "c"), ("model", "other"), ("provider", "openai"),
                                           ("status", "2xx")))]  # fmt: skip
    assert other == 1000 - MAX_VALUES, "nothing is lost: the rest is counted under other"


def test_remembered_labels_answer_as_the_bounded_labels_do():
    """Labels are remembered per (provider, model, member): a model seen before the label filled keeps its
    series, later ones go to "other" however often they repeat, and an unhashable value still counts."""
    from prometheus_client import generate_latest

    m = RequestMetrics()
    for i in [*range(MAX_VALUES + 50), *range(MAX_VALUES + 50)]:  # every model twice: the second pass is cached
        m.note({"provider": "openai", "model": f"m{i}", "client": "c", "status": 200, "latency_ms": 5.0})
    m.note({"provider": ["odd"], "model": "m0", "client": "c", "status": 200, "latency_ms": 5.0})
    m.drain()
    s = samples(generate_latest(m.registry).decode())

    def requests(provider: str, model: str) -> float:
        labels = (("member", "c"), ("model", model), ("provider", provider), ("status", "2xx"))
        return s[("proxypal_requests_total", labels)]

    assert requests("openai", "m0") == 2 and requests("openai", f"m{MAX_VALUES - 1}") == 2
    assert requests("openai", "other") == 2 * 50
    assert requests("['odd']", "m0") == 1


def test_counts_summed_per_drain_are_the_sums_of_the_requests():
    """Counters are added once per series per drain: the totals are still every request's, across drains,
    errors by code, and a malformed record does not lose what the records before it in that drain counted."""
    from prometheus_client import generate_latest

    m = RequestMetrics()
    ok = {"provider": "openai", "model": "gpt-4o-mini", "member": "mk_1", "status": 200, "input_tokens": 100,
          "output_tokens": 7, "cache_read_tokens": 0, "cache_write_tokens": 3, "cost_usd": 0.25, "latency_ms": 80.0,
          "ttfb_ms": 20.0}  # fmt: skip
    failed = {**ok, "status": 502, "error": {"code": "upstream_timeout"}, "input_tokens": 0, "output_tokens": 0,
              "cache_write_tokens": 0, "cost_usd": None, "ttfb_ms": None}  # fmt: skip
    for _ in range(3):
        m.note(ok)
    m.note(failed)
    m.drain()
    m.note(ok)
    m.note({**ok, "status": "not a status"})  # malformed: counting stops at it, the drain's sums still land
    with pytest.raises(ValueError):
        m.drain()
    s = samples(generate_latest(m.registry).decode())
    who = (("member", "mk_1"), ("model", "gpt-4o-mini"), ("provider", "openai"))

    def get(name: str, *extra: tuple[str, str]) -> float:
        return s[(name, tuple(sorted((*who, *extra))))]

    assert get("proxypal_requests_total", ("status", "2xx")) == 4
    assert get("proxypal_requests_total", ("status", "5xx")) == 1
    assert get("proxypal_request_errors_total", ("code", "upstream_timeout")) == 1
    assert get("proxypal_tokens_total", ("kind", "input")) == 400
    assert get("proxypal_tokens_total", ("kind", "output")) == 28
    assert get("proxypal_tokens_total", ("kind", "cache_write")) == 12
    assert get("proxypal_cost_usd_total") == 1.0
    lat = (("model", "gpt-4o-mini"), ("provider", "openai"))
    assert s[("proxypal_request_duration_seconds_count", lat)] == 5
    assert s[("proxypal_time_to_first_byte_seconds_count", lat)] == 4
