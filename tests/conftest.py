"""Shared fixtures: a real database (committed, so engine threads see it) and a live engine."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.engine import runtime, specs
from tests.helpers import Runner, assert_nothing_stuck

# A test that deliberately leaves work nobody will finish says why:
# @pytest.mark.leaves_work_unfinished(reason="...")
UNFINISHED = "leaves_work_unfinished"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{UNFINISHED}(reason): skip the check that nothing is left stuck")


@pytest.fixture
def running_engine(transactional_db: None) -> Iterator[runtime.Engine]:
    specs._cache.clear()
    started = runtime.ensure_started(threads=4)
    yield started
    runtime.shutdown(timeout=5, graceful=False)
    specs._cache.clear()


@pytest.fixture
def engine(running_engine: runtime.Engine, request: pytest.FixtureRequest) -> Iterator[runtime.Engine]:
    """The engine, and after the test (before the engine stops) the check that every
    execution is terminal, waiting for a resume or a timer, or has someone working on it."""
    yield running_engine
    exempt = request.node.get_closest_marker(UNFINISHED)
    if exempt is None:
        assert_nothing_stuck()
    elif not exempt.kwargs.get("reason"):
        pytest.fail(f"@pytest.mark.{UNFINISHED} needs a reason=...")


@pytest.fixture
def runner(engine: runtime.Engine) -> Runner:
    return Runner()
