"""The executor's row cache: only rows whose version moved are read again."""
from __future__ import annotations

from django.utils import timezone

from flows.models import TaskRun
from orchestrator.engine import services
from orchestrator.engine.rowcache import SMALL, RowCache
from orchestrator.engine.states import State
from orchestrator.engine.transitions import change_taskrun
from tests.helpers import Runner, terminal


def _paused_execution_with_rows(runner: Runner, count: int) -> str:
    exe = runner.run("""
        id: cached
        namespace: t
        tasks:
          - {id: gate, type: pause}
    """)
    TaskRun.objects.bulk_create(
        TaskRun(id=f"00000000-0000-0000-0000-{i:012d}", execution=exe, task_id="gate", key=f"/x/{i}", seq=100 + i,
                state="SUCCESS", outputs={"n": i})
        for i in range(count)
    )
    return str(exe.id)


def test_it_reads_again_only_the_rows_another_writer_changed(runner: Runner) -> None:
    execution_id = _paused_execution_with_rows(runner, SMALL + 4)
    cache = RowCache()
    first = cache.load(execution_id)
    cache.keep(execution_id, first)
    by_id = {str(r.id): r for r in first}
    target = "00000000-0000-0000-0000-000000000003"
    elsewhere = TaskRun.objects.get(id=target)  # another process's copy of the row
    assert change_taskrun(elsewhere, State.SUCCESS, timezone.now(), outputs={"n": "changed"})
    TaskRun.objects.filter(id="00000000-0000-0000-0000-000000000004").delete()
    TaskRun.objects.create(id="00000000-0000-0000-0000-000000000999", execution_id=execution_id, task_id="gate",
                           key="/x/new", seq=999, state="CREATED")
    second = {str(r.id): r for r in cache.load(execution_id)}
    assert second[target].outputs == {"n": "changed"}
    assert second[target] is not by_id[target]
    assert "00000000-0000-0000-0000-000000000004" not in second
    assert second["00000000-0000-0000-0000-000000000999"].state == "CREATED"
    unchanged = "00000000-0000-0000-0000-000000000005"
    assert second[unchanged] is by_id[unchanged]


def test_a_long_loop_runs_through_the_cached_path(runner: Runner) -> None:
    exe = runner.run("""
        id: long-loop
        namespace: t
        tasks:
          - id: each
            type: foreach
            values: "{{ range(1, 100) | list }}"
            concurrencyLimit: 0
            tasks:
              - {id: square, type: return, format: "{{ taskrun.value | int * taskrun.value | int }}"}
          - {id: pick, type: return, format: "{{ outputs.square['7'].value }}"}
    """, timeout=120)
    assert exe.state == "SUCCESS", runner.describe(exe)
    assert len(runner.taskruns(exe)) == 102  # Pebble's range includes its end: 100 values
    assert runner.taskrun(exe, "pick").outputs == {"value": "49"}


def test_a_restart_of_a_cached_execution_sees_the_restarted_rows(runner: Runner) -> None:
    exe = runner.run("""
        id: long-restart
        namespace: t
        tasks:
          - id: each
            type: foreach
            values: "{{ range(1, 30) | list }}"
            tasks:
              - {id: ok, type: return, format: x}
          - {id: flaky, type: return, format: "{{ taskrun.attemptsCount >= 1 ? 'fine' : boom }}"}
    """, timeout=120)
    assert exe.state == "FAILED"
    services.restart(str(exe.id))
    exe = runner.wait(exe, lambda e: e.state != "RESTARTED" and terminal(e), timeout=60)
    assert exe.state == "SUCCESS"
    assert len(runner.taskrun(exe, "flaky").attempts) == 2
