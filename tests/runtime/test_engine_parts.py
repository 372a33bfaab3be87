"""An Engine is built from its parts: a test gives it its own clock, bus and publisher."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from flows.models import Execution, TaskRun
from orchestrator.engine import infra, services
from orchestrator.engine.bus import LocalBus
from orchestrator.engine.clock import FakeClock
from orchestrator.engine.runtime import Engine
from tests.runtime.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """A publisher that keeps every event it is handed."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)


@pytest.fixture
def parts() -> Iterator[infra.Infra]:
    infra.reset()
    yield infra.infra()
    infra.reset()


def _engine(parts: infra.Infra, **kwargs: Any) -> Engine:
    return Engine(store=parts.store, bus=kwargs.pop("bus", parts.bus), publisher=kwargs.pop("publisher", Recorder()),
                  specs=parts.specs, **kwargs)


def test_timers_follow_the_engines_clock_not_the_wall(parts: infra.Infra) -> None:
    clock = FakeClock()
    start = clock.now()
    engine = _engine(parts, clock=clock, bus=LocalBus()).start()
    try:
        services.deploy("""
id: patient
namespace: t
tasks:
  - {id: later, type: pause, delay: PT1H}
  - id: flaky
    type: fail
    retry: {type: constant, interval: PT10M, maxAttempt: 2}
""")
        exe = services.create_execution("t", "patient", {})
        engine.wake(exe.id)
        wait_until(lambda: Execution.objects.filter(id=exe.id, state="PAUSED").exists(), what="the pause")
        time.sleep(0.3)
        assert Execution.objects.get(id=exe.id).state == "PAUSED"
        clock.advance(timedelta(hours=1).total_seconds())
        engine.maintain()
        wait_until(lambda: Execution.objects.get(id=exe.id).wake_at is not None
                   and Execution.objects.get(id=exe.id).state == "RUNNING", what="the retry's timer")
        clock.advance(timedelta(minutes=10).total_seconds())
        engine.maintain()
        done = wait_until(lambda: Execution.objects.filter(id=exe.id, state="FAILED").first(), what="the end")
        assert done.end_date >= start + timedelta(hours=1, minutes=10)
    finally:
        engine.stop()


def test_the_events_published_are_the_journals_in_order_without_gaps(parts: infra.Infra) -> None:
    recorder = Recorder()
    engine = _engine(parts, publisher=recorder).start()
    try:
        services.deploy("""
id: chatty
namespace: t
tasks:
  - id: each
    type: foreach
    values: [a, b, c]
    concurrencyLimit: 0
    tasks:
      - {id: say, type: log, message: "{{ taskrun.value }}"}
""")
        exe = services.create_execution("t", "chatty", {})
        wait_until(lambda: Execution.objects.filter(id=exe.id, state="SUCCESS").exists(), what="the end")
        wait_until(lambda: any(e["type"] == "end" and e["executionId"] == exe.id for e in recorder.events),
                   what="the end event")
    finally:
        engine.stop()
    published = sorted((e for e in recorder.events if e["executionId"] == exe.id), key=lambda e: e["seq"])
    journal = [event.as_json() for event in parts.store.events_since(exe.id, 0)]
    assert [e["seq"] for e in journal] == list(range(1, len(journal) + 1))
    # Creation was published by the service (not this engine): everything after it by the engine.
    assert published == journal[1:]
    assert journal[-1]["type"] == "end" and journal[-1]["payload"] == {"state": "SUCCESS"}
    logs = [e for e in journal if e["type"] == "log"]
    assert sorted(e["payload"]["message"] for e in logs) == ["a", "b", "c"]
    assert all(e["payload"]["seq"] == e["seq"] for e in logs)
    assert parts.store.events_since(exe.id, journal[-3]["seq"]) == [
        event for event in parts.store.events_since(exe.id, 0) if event.seq > journal[-3]["seq"]]


def test_an_engine_stopped_during_a_pass_hands_back_what_that_pass_claimed(parts: infra.Infra) -> None:
    """The pass claims an attempt for this process's idle worker, then the engine is told
    to stop before the pass hands the attempt to the queue: the attempt must be handed back,
    not left RUNNING under the name of an engine that is gone (it would fail as "lost its
    worker" once taken over)."""
    engine = _engine(parts)
    claimed, original = threading.Event(), engine.executor.advance

    def advance_then_linger(*args: Any, **kwargs: Any) -> Any:
        effects = original(*args, **kwargs)
        if not claimed.is_set():
            claimed.set()
            wait_until(lambda: engine._closing, what="the stop")
        return effects

    engine.executor.advance = advance_then_linger  # type: ignore[method-assign]
    engine.start()
    services.deploy("id: brief\nnamespace: t\ntasks:\n  - {id: say, type: log, message: hi}\n")
    exe = services.create_execution("t", "brief", {})
    engine.wake(exe.id)
    assert claimed.wait(10)
    engine.stop()
    run = TaskRun.objects.get(execution_id=exe.id)
    assert run.state != "RUNNING"
    assert [a["state"] for a in run.attempts] == ["KILLED"]
    assert Execution.objects.get(id=exe.id).owner == ""


def test_a_kill_stops_an_attempt_claimed_before_it_that_had_not_started_yet(parts: infra.Infra) -> None:
    """A pass claims an attempt for an idle local worker; the kill arrives before that worker
    thread starts it. The attempt must not run its 30 s of work."""
    engine = _engine(parts)
    kill_heard, original = threading.Event(), engine.worker.run

    def start_late(job: Any) -> None:
        kill_heard.wait(10)
        original(job)

    engine.worker.run = start_late  # type: ignore[method-assign]
    engine.start()
    try:
        services.deploy("id: long\nnamespace: t\ntasks:\n  - {id: nap, type: sleep, duration: PT30S}\n")
        exe = services.create_execution("t", "long", {})
        engine.wake(exe.id)
        wait_until(lambda: TaskRun.objects.filter(execution_id=exe.id, state="RUNNING").exists(), what="the claim")
        services.kill(exe.id)
        wait_until(lambda: exe.id in engine.worker.running._kills, what="the kill to reach the engine")
        started = time.monotonic()
        kill_heard.set()
        wait_until(lambda: Execution.objects.filter(id=exe.id, state="KILLED").exists(), timeout=10,
                   what="the execution to end KILLED")
        assert time.monotonic() - started < 5
        assert TaskRun.objects.get(execution_id=exe.id).state == "KILLED"
    finally:
        kill_heard.set()
        engine.stop()
