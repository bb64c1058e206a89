import pytest

from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread


@pytest.fixture(scope="module")
def fakes():
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa, \
            FakeServerThread(FakeGemini()) as fg:  # fmt: skip
        yield fo, fa, fg


@pytest.fixture(scope="module")
def engine(fakes):
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes, extra="max_body_mb: 0.05\n"), port) as eng:
        yield eng


@pytest.fixture(autouse=True)
def _reset_fakes(request):
    if "fakes" in request.fixturenames:
        for f in request.getfixturevalue("fakes"):
            f.reset()
    if "engine" in request.fixturenames:
        request.getfixturevalue("engine").clear_cooldowns()
    yield
