"""Shared fixtures: a real database (committed, so engine threads see it) and a live engine."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.engine import infra
from orchestrator.engine.runtime import Engine
from tests.helpers import Runner, assert_nothing_stuck

# A test that deliberately leaves work nobody will finish says why:
# @pytest.mark.leaves_work_unfinished(reason="...")
UNFINISHED = "leaves_work_unfinished"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{UNFINISHED}(reason): skip the check that nothing is left stuck")


@pytest.fixture
def running_engine(transactional_db: None) -> Iterator[Engine]:
    infra.reset()
    started = Engine.from_settings(threads=4).start()
    yield started
    started.stop(timeout=5)
    infra.reset()


@pytest.fixture
def engine(running_engine: Engine, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The engine, and after the test (before the engine stops) the check that every
    execution is terminal, waiting for a resume or a timer, or has someone working on it."""
    yield running_engine
    exempt = request.node.get_closest_marker(UNFINISHED)
    if exempt is None:
        assert_nothing_stuck()
    elif not exempt.kwargs.get("reason"):
        pytest.fail(f"@pytest.mark.{UNFINISHED} needs a reason=...")


@pytest.fixture
def runner(engine: Engine) -> Runner:
    return Runner()
