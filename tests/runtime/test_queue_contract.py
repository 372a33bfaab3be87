"""What every queue backend promises (the Celery backend will run these too)."""
from __future__ import annotations

import threading
import time

import pytest

from orchestrator.engine.queue.base import Job, QueueBackend
from orchestrator.engine.queue.local import LocalQueue

BACKENDS = [LocalQueue]


def _job(n: int) -> Job:
    return Job(execution_id=f"e{n}", taskrun_id=f"t{n}", revision_id=1, attempt=1)


@pytest.fixture(params=BACKENDS, ids=lambda cls: cls.__name__)
def backend(request: pytest.FixtureRequest) -> type[QueueBackend]:
    return request.param  # type: ignore[no-any-return]


def test_a_job_is_a_small_reference_that_survives_serialisation() -> None:
    job = Job(execution_id="e", taskrun_id="t", revision_id=7, attempt=2)
    assert Job.from_json(job.to_json()) == job
    assert len(job.to_json()) < 200


def test_every_submitted_job_is_run(backend: type[QueueBackend]) -> None:
    done: list[Job] = []
    finished = threading.Event()

    def execute(job: Job) -> None:
        done.append(job)
        if len(done) == 50:
            finished.set()

    queue = backend(execute, 4)
    queue.start()
    try:
        for n in range(50):
            queue.submit(_job(n))
        assert finished.wait(10)
    finally:
        queue.stop()
    assert sorted(j.taskrun_id for j in done) == sorted(f"t{n}" for n in range(50))


def test_jobs_run_at_once_up_to_the_thread_count(backend: type[QueueBackend]) -> None:
    running, peak = 0, 0
    lock = threading.Lock()
    release = threading.Event()

    def execute(job: Job) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(5)
        with lock:
            running -= 1

    queue = backend(execute, 3)
    queue.start()
    try:
        for n in range(6):
            queue.submit(_job(n))
        deadline = time.monotonic() + 5
        while peak < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.pending() == 3
        release.set()
    finally:
        queue.stop()
    assert peak == 3


def test_room_is_the_idle_workers_and_a_backlog_of_one_job_each(backend: type[QueueBackend]) -> None:
    release = threading.Event()
    queue = backend(lambda job: release.wait(5), 2)
    queue.start()
    try:
        deadline = time.monotonic() + 5
        while queue.room() < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.room() == 4  # two idle workers, and one job waiting behind each
        for n in range(2):
            queue.submit(_job(n))
        while queue.room() > 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.room() == 2
        for n in range(2, 4):
            queue.submit(_job(n))
        assert (queue.room(), queue.pending()) == (0, 2)
        release.set()
    finally:
        queue.stop()
    assert queue.room() == 0  # a stopped queue takes nothing


def test_a_job_that_raises_does_not_stop_the_workers(backend: type[QueueBackend]) -> None:
    done: list[str] = []
    second = threading.Event()

    def execute(job: Job) -> None:
        if job.taskrun_id == "t0":
            raise RuntimeError("a bug in a task")
        done.append(job.taskrun_id)
        second.set()

    queue = backend(execute, 1)
    queue.start()
    try:
        queue.submit(_job(0))
        queue.submit(_job(1))
        assert second.wait(5)
    finally:
        queue.stop()
    assert done == ["t1"]


def test_stop_lets_a_running_job_finish(backend: type[QueueBackend]) -> None:
    started, finished = threading.Event(), threading.Event()

    def execute(job: Job) -> None:
        started.set()
        time.sleep(0.2)
        finished.set()

    queue = backend(execute, 1)
    queue.start()
    queue.submit(_job(0))
    assert started.wait(5)
    queue.stop(timeout=5)
    assert finished.is_set()
