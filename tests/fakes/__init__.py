"""Fake upstream providers: real aiohttp servers on 127.0.0.1 that speak the providers' wire formats.

    async with FakeOpenAI() as fake:               # or: with FakeServerThread(FakeOpenAI()) as fake:
        fake.script(text="hi", chunks=2)           # answer for every later request
        fake.queue(status=429, retry_after=3)      # one-shot answer, used first
        ... point the proxy at fake.base_url with fake.api_key ...
        fake.last_request.json["model"]            # everything received is in fake.requests

base_url: FakeOpenAI "http://127.0.0.1:PORT/v1"; FakeAnthropic and FakeGemini "http://127.0.0.1:PORT"
(Gemini answers under both /v1beta and /v1). Pytest fixtures fake_openai / fake_anthropic / fake_gemini
live in tests.fakes.fixtures. Script fields are documented on `Script`, token semantics on `Usage`.
"""

from .anthropic_fake import FakeAnthropic
from .base import FakeProvider, InvalidRequest, RecordedRequest, parse_sse
from .gemini_fake import FakeGemini
from .openai_fake import FakeOpenAI
from .script import Script, ToolCall, Usage, split_text
from .thread import FakeServerThread

__all__ = [
    "FakeAnthropic",
    "FakeGemini",
    "FakeOpenAI",
    "FakeProvider",
    "FakeServerThread",
    "InvalidRequest",
    "RecordedRequest",
    "Script",
    "ToolCall",
    "Usage",
    "parse_sse",
    "split_text",
]
