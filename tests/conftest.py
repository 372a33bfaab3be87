"""Shared fixtures: a real database (committed, so engine threads see it) and a live engine."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.engine import infra
from orchestrator.engine.runtime import Engine
from tests.helpers import Runner


@pytest.fixture
def engine(transactional_db: None) -> Iterator[Engine]:
    infra.reset()
    started = Engine.from_settings(threads=4).start()
    yield started
    started.stop(timeout=5)
    infra.reset()


@pytest.fixture
def runner(engine: Engine) -> Runner:
    return Runner()
