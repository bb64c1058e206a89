"""`proxypal-tui --web` in a real headless Chromium, against the real engine and a fake upstream.

The web server runs as a subprocess exactly as a user starts it; it supervises the engine, and each
browser tab gets its own app process (textual-serve) that attaches to that engine. The terminal is
drawn by xterm.js on a canvas, so the page has no text to query: an init script keeps a reference
to the xterm `Terminal` when textual-serve's page creates it, and the tests read the screen from
its buffer (`buffer.active.getLine(y).translateToString()`), which is exactly what is on screen.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import openai
import psutil
import pytest

from tests.fakes import FakeOpenAI, FakeServerThread

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (the test extra)")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_LIMIT_S = 90  # two cores shared by many: starting Python processes can be slow
SCREEN_LIMIT_MS = 90_000
UPSTREAM_TEXT = "hello from the fake upstream"

# Keeps the xterm Terminal that textual-serve's page assigns to `this.terminal`, and reads its screen.
CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && typeof value.write === "function") { window.__ppTerminal = value; }
  },
});
window.__ppScreen = () => {
  const term = window.__ppTerminal;
  if (!term) { return ""; }
  const buffer = term.buffer.active;
  const lines = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
};
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class WebView:
    url: str
    key: str
    config: Path
    engine_port: int
    proc: subprocess.Popen[bytes]
    log: Path


def engines_for(config: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if any("proxy_engine" in part for part in cmd) and str(config) in cmd:
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI()) as fake:
        fake.script(text=UPSTREAM_TEXT, chunks=3)
        yield fake


@pytest.fixture(scope="module")
def web_view(tmp_path_factory: pytest.TempPathFactory, upstream: FakeOpenAI) -> Iterator[WebView]:
    """`proxypal-tui --web` as a subprocess with its own PROXYPAL_HOME; stopped (and checked) afterwards."""
    home = tmp_path_factory.mktemp("web-home")
    config = (home / "config.yaml").resolve()
    engine_port, web_port = free_port(), free_port()
    config.write_text(
        f"port: {engine_port}\nhost: 127.0.0.1\n"
        f"providers:\n  openai: {{kind: openai, base_url: {upstream.base_url}, api_key: env:OPENAI_API_KEY}}\n"
    )
    env = dict(os.environ, PROXYPAL_HOME=str(home), OPENAI_API_KEY=upstream.api_key, PYTHONPATH=str(REPO))
    env.pop("PROXYPAL_CONFIG", None)
    log = home / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxypal_tui", "--web", "--port", str(web_port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{web_port}"
    key_file = home / "data" / "management.key"
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while True:
            assert proc.poll() is None, f"the web view exited early:\n{log.read_text()}"
            ready = key_file.exists() and any(p.pid for p in engines_for(config))
            try:
                ready = ready and httpx.get(url + "/login", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            assert time.monotonic() < deadline, f"the web view did not come up:\n{log.read_text()}"
            time.sleep(0.2)
        yield WebView(url, key_file.read_text().strip(), config, engine_port, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()
    deadline = time.monotonic() + 15
    while engines_for(config) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not engines_for(config), "stopping the web view must stop the engine it started"


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: sync_api.Browser) -> Iterator[sync_api.BrowserContext]:
    """A fresh browser session (no cookies) that may reach loopback only (the page links a web font)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.add_init_script(CAPTURE_TERMINAL)

    def loopback_only(route: sync_api.Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            route.abort()

    ctx.route("**/*", loopback_only)
    yield ctx
    ctx.close()


def sign_in(page: sync_api.Page, url: str, key: str) -> sync_api.Response | None:
    page.goto(url + "/")
    page.fill("input[name=key]", key)
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    return nav.value


def wait_for_screen(page: sync_api.Page, *needles: str) -> str:
    """Wait until every needle is on the terminal screen; returns the screen's text."""
    try:
        page.wait_for_function(
            "(needles) => needles.every((n) => window.__ppScreen().includes(n))",
            arg=list(needles),
            timeout=SCREEN_LIMIT_MS,
        )
    except sync_api.TimeoutError:
        pytest.fail(f"never saw {needles} on screen; it shows:\n{page.evaluate('window.__ppScreen()')}")
    return page.evaluate("window.__ppScreen()")


def test_the_login_page_loads(web_view: WebView, context: sync_api.BrowserContext) -> None:
    page = context.new_page()
    page.goto(web_view.url + "/")
    assert urlsplit(page.url).path == "/login", "the app is not served before signing in"
    assert page.title() == "ProxyPal — sign in"
    assert page.get_attribute("input[name=key]", "type") == "password"
    assert "Management key" in page.inner_text("form")


def test_a_wrong_key_is_refused(web_view: WebView, context: sync_api.BrowserContext) -> None:
    page = context.new_page()
    response = sign_in(page, web_view.url, "not-the-key")
    assert response is not None and response.status == 401
    assert "Wrong management key" in page.inner_text("[role=alert]")
    assert not context.cookies(), "a refused sign-in gets no session"
    # Neither the page nor the app's websocket opens without a session.
    assert context.request.get(web_view.url + "/ws").status == 401
    page.goto(web_view.url + "/")
    assert urlsplit(page.url).path == "/login"


def test_the_app_renders_and_shows_a_proxied_request(
    web_view: WebView, context: sync_api.BrowserContext, tmp_path: Path
) -> None:
    page = context.new_page()
    response = sign_in(page, web_view.url, web_view.key)
    assert response is not None and response.status == 200 and urlsplit(page.url).path == "/"
    (cookie,) = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] == -1
    assert cookie["value"] != web_view.key
    screen = wait_for_screen(page, "Dashboard", "ready", "attached")
    assert f"127.0.0.1:{web_view.engine_port}" in screen

    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{web_view.engine_port}/v1", api_key="not-needed-on-loopback", max_retries=0
    )
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == UPSTREAM_TEXT

    page.click(".textual-terminal")  # focus xterm, then press the Requests screen's key
    page.keyboard.press("r")
    screen = wait_for_screen(page, "gpt-4o", "openai", "200")
    assert "Requests" in screen
    shot = tmp_path / "web-view-requests.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    print(f"screenshot: {shot}")


def test_a_second_tab_attaches_to_the_same_engine(web_view: WebView, context: sync_api.BrowserContext) -> None:
    first = context.new_page()
    sign_in(first, web_view.url, web_view.key)
    second = context.new_page()  # same browser session: no second sign-in
    second.goto(web_view.url + "/")
    assert urlsplit(second.url).path == "/"
    for page in (first, second):
        wait_for_screen(page, "ready", "attached", f"127.0.0.1:{web_view.engine_port}")
    engines = engines_for(web_view.config)
    assert len(engines) == 1, [p.cmdline() for p in engines]
    assert engines[0].ppid() == web_view.proc.pid, "the web server, not a tab, owns the engine"
