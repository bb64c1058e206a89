import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread
from tests.recorder.helpers import ENV, recorder_config


@pytest.fixture(scope="module")
def fakes():
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa, \
            FakeServerThread(FakeGemini()) as fg:  # fmt: skip
        yield fo, fa, fg


@pytest.fixture(scope="module")
def engine(fakes):
    """recorder.mode: all, one client key: every request is captured."""
    port = free_port()
    with EngineProcess(recorder_config(port, *fakes), port, env=ENV) as eng:
        yield eng


@pytest.fixture(autouse=True)
def _reset_fakes(request):
    if "fakes" in request.fixturenames:
        for f in request.getfixturevalue("fakes"):
            f.reset()
    for name in ("engine", "errors_engine"):  # a scripted failure leaves a cooldown behind
        if name in request.fixturenames:
            request.getfixturevalue(name).clear_cooldowns()
    yield
