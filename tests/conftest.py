"""Shared fixtures: a real database (committed, so engine threads see it) and a live engine."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.engine import runtime, specs
from tests.helpers import Runner


@pytest.fixture
def engine(transactional_db: None) -> Iterator[runtime.Engine]:
    specs._cache.clear()
    started = runtime.ensure_started(threads=4)
    yield started
    runtime.shutdown(timeout=5, graceful=False)
    specs._cache.clear()


@pytest.fixture
def runner(engine: runtime.Engine) -> Runner:
    return Runner()
