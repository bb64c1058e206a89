"""Pytest fixtures: each yields a fresh fake provider served from a background thread.

Usable from sync and async tests alike (the fake has its own loop). Enable them in a conftest with
`pytest_plugins = ["tests.fakes.fixtures"]`, or import the fixture names into a test module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .anthropic_fake import FakeAnthropic
from .gemini_fake import FakeGemini
from .openai_fake import FakeOpenAI
from .thread import FakeServerThread


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI()) as fake:
        yield fake


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeServerThread(FakeAnthropic()) as fake:
        yield fake


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeServerThread(FakeGemini()) as fake:
        yield fake
