"""Duration properties written as expressions, rendered where the engine uses them."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from flows.models import TaskRun
from orchestrator.engine import services
from orchestrator.engine.infra import infra
from orchestrator.engine.runtime.recovery import recover_lost_attempt
from orchestrator.engine.store import LostAttempt
from tests.helpers import Runner


def test_a_timeout_written_as_an_expression_limits_the_task(runner: Runner) -> None:
    exe = runner.run("""
        id: limited
        namespace: t
        inputs:
          - {id: limit, type: STRING}
        tasks:
          - {id: nap, type: sleep, duration: "{{ 10 * 3 }}", timeout: "{{ inputs.limit }}"}
    """, {"limit": "pt0.3s"}, timeout=15)
    assert exe.state == "FAILED"
    assert "Task [nap] timed out after PT0.3S" in runner.messages(exe)


def test_a_timeout_that_does_not_render_to_a_duration_fails_the_task_with_the_reason(runner: Runner) -> None:
    exe = runner.run("""
        id: badly-limited
        namespace: t
        inputs:
          - {id: limit, type: STRING}
        tasks:
          - {id: quick, type: log, message: hi, timeout: "{{ inputs.limit }}"}
    """, {"limit": "soon"}, timeout=15)
    assert exe.state == "FAILED"
    assert runner.messages(exe) == [
        "Invalid timeout '{{ inputs.limit }}': it rendered to 'soon', which is not a duration (expected ISO-8601 "
        "such as PT30S, PT15M or P2DT3H, or a number of seconds)"
    ]


def test_a_retry_interval_written_as_an_expression_spaces_the_attempts(runner: Runner) -> None:
    exe = runner.run("""
        id: spaced
        namespace: t
        variables:
          every: PT0.2S
        tasks:
          - id: flaky
            type: fail
            errorMessage: boom
            retry: {type: constant, interval: "{{ vars.every }}", maxAttempt: 2}
    """, timeout=15)
    assert exe.state == "FAILED"
    run = runner.taskrun(exe, "flaky")
    assert [a["state"] for a in run.attempts] == ["FAILED", "FAILED"]
    first_end = run.attempts[0]["endDate"]
    second_start = run.attempts[1]["startDate"]
    assert second_start > first_end
    assert any(m.startswith("boom (attempt 1, retrying at") for m in runner.messages(exe))


def test_a_retry_interval_that_does_not_render_to_a_duration_ends_the_task_without_retrying(runner: Runner) -> None:
    exe = runner.run("""
        id: unspaced
        namespace: t
        tasks:
          - id: flaky
            type: fail
            errorMessage: boom
            retry: {type: constant, interval: "{{ 'later' }}", maxAttempt: 3}
    """, timeout=15)
    assert exe.state == "FAILED"
    assert len(runner.taskrun(exe, "flaky").attempts) == 1
    assert runner.messages(exe) == [
        "boom; not retried: Invalid retry.interval \"{{ 'later' }}\": it rendered to 'later', which is not a "
        "duration (expected ISO-8601 such as PT30S, PT15M or P2DT3H, or a number of seconds)"
    ]


@pytest.mark.django_db(transaction=True)
def test_an_attempt_whose_worker_died_is_retried_after_its_rendered_interval() -> None:
    services.deploy(
        "id: orphan\nnamespace: t\nvariables: {every: PT1M}\ntasks:\n"
        "  - id: nap\n    type: sleep\n    duration: PT1H\n"
        "    retry: {type: constant, interval: '{{ vars.every }}', maxAttempt: 2}\n"
    )
    exe = services.create_execution("t", "orphan", {})
    now = timezone.now()
    row = TaskRun.objects.create(
        id=uuid.uuid4(), execution_id=exe.id, task_id="nap", key="/nap/", seq=1, state="RUNNING",
        attempts=[{"state": "RUNNING", "startDate": now.isoformat()}], lease_owner="gone", start_date=now,
    )
    parts = infra()
    assert recover_lost_attempt(parts.store, parts.specs, LostAttempt(str(row.id), exe.id, "gone"), now)
    row.refresh_from_db()
    assert row.state == "RETRYING"
    assert row.wake_at == now + timedelta(minutes=1)
