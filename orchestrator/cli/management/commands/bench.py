"""``bench``: the project's benchmark, in standalone mode, in a throwaway database.

M1  run request (the service call the API uses, in the server process) -> first task starts
M2  per-task overhead of a 40-task sequential flow; wall time of a 40-way parallel fan-out
M2b per-task overhead of 40 sequential shell tasks running `true`, above spawning the process
M3  completed 1-task executions per second, 500 requests issued back to back
MEM peak resident memory of the benchmark process
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from orchestrator.cli.base import ChoreoCommand

METHOD = {
    "M1": "1-task flow (return); time from just before services.create_execution() to the start date of the "
          "task's first attempt (claimed by a worker); {warmup} warm-up runs, then {runs} runs one at a time",
    "M2": "40 sequential return tasks: (execution end - start) / 40, median of {runs} runs after a warm-up; "
          "fan-out: one parallel task with 40 return children, execution start to end",
    "M2b": "40 sequential shell tasks running `true`: (execution end - start) / 40, median of {runs} runs after "
           "a warm-up, minus the median time to spawn and reap `/bin/sh -c true` directly (subprocess.run, "
           "{spawns} times, measured in the same run)",
    "M3": "500 executions of a 1-task flow created back to back by one thread, engine running; "
          "executions/s = 500 / (time from the first request to the last execution's end)",
    "MEM": "peak resident set size of the process (ru_maxrss)",
}

ONE = """
id: bench-one
namespace: choreo.bench
tasks:
  - id: only
    type: return
    format: "{{ execution.id }}"
"""


def _seq_flow(n: int) -> str:
    tasks = "\n".join(f"  - id: t{i}\n    type: return\n    format: \"{{{{ task.id }}}}\"" for i in range(n))
    return f"id: bench-seq\nnamespace: choreo.bench\ntasks:\n{tasks}\n"


def _par_flow(n: int) -> str:
    tasks = "\n".join(f"      - id: p{i}\n        type: return\n        format: \"{{{{ task.id }}}}\"" for i in range(n))
    return f"id: bench-par\nnamespace: choreo.bench\ntasks:\n  - id: fan\n    type: parallel\n    tasks:\n{tasks}\n"


def _shell_flow(n: int) -> str:
    tasks = "\n".join(f"  - id: s{i}\n    type: shell\n    commands: [\"true\"]" for i in range(n))
    return f"id: bench-shell\nnamespace: choreo.bench\ntasks:\n{tasks}\n"


def _spawn_cost(times: int) -> float:
    costs = []
    for _ in range(times):
        start = time.perf_counter()
        subprocess.run(["/bin/sh", "-c", "true"], check=True)
        costs.append(time.perf_counter() - start)
    return statistics.median(costs)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Command(ChoreoCommand):
    help = "Measure Choreo's speed (M1-M3) and memory in a throwaway database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--runs", type=int, default=30, help="measured runs for M1")
        parser.add_argument("--inner", action="store_true", help="(internal) run inside the throwaway database")

    def execute(self, *args: Any, **options: Any) -> Any:
        if not options.get("inner"):
            return self._outer(options)
        return super().execute(*args, **options)

    def _outer(self, options: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="choreo-bench-") as tmp:
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                   "CHOREO_DATA_DIR": tmp}
            env.pop("CHOREO_QUEUE_BACKEND", None)
            proc = subprocess.run(
                [sys.executable, sys.argv[0], "bench", "--inner", "--runs", str(options["runs"])],
                env=env, capture_output=True, text=True,
            )
        if proc.returncode != 0:
            self.stderr.write(proc.stderr)
            raise SystemExit(proc.returncode)
        result = json.loads(proc.stdout)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for key in ("M1", "M2", "M2b", "M3", "MEM"):
            figures = {k: v for k, v in result[key].items() if k != "method"}
            self.stdout.write(f"{key}: {json.dumps(figures)}")
            self.stdout.write(f"    method: {result[key]['method']}")

    def handle(self, *args: Any, **options: Any) -> None:
        from orchestrator.engine import services
        from orchestrator.engine.runtime import Engine

        for text in (ONE, _seq_flow(40), _par_flow(40), _shell_flow(40)):
            services.deploy(text, "bench")
        engine = Engine.from_settings().start()
        try:
            runs = max(5, options["runs"])
            warmup = 5
            m1 = [self._m1(services) for _ in range(warmup + runs)][warmup:]
            self._run_and_wait(services, "bench-seq")
            seq = [self._run_and_wait(services, "bench-seq") for _ in range(5)]
            self._run_and_wait(services, "bench-par")
            par = [self._run_and_wait(services, "bench-par") for _ in range(5)]
            self._run_and_wait(services, "bench-shell")
            shell = [self._run_and_wait(services, "bench-shell") for _ in range(5)]
            spawn = _spawn_cost(40)
            m3 = self._m3(services, 500)
        finally:
            engine.stop()
        per_task = [s / 40 * 1000 for s in seq]
        result = {
            "M1": {"p50_ms": round(statistics.median(m1) * 1000, 3), "p99_ms": round(_pct(m1, 0.99) * 1000, 3),
                   "runs": len(m1), "method": METHOD["M1"].format(warmup=warmup, runs=runs)},
            "M2": {"per_task_ms": round(statistics.median(per_task), 3),
                   "per_task_p99_ms": round(_pct(per_task, 0.99), 3),
                   "sequential_40_ms": round(statistics.median(seq) * 1000, 2),
                   "parallel_40_ms": round(statistics.median(par) * 1000, 2),
                   "parallel_40_p99_ms": round(_pct(par, 0.99) * 1000, 2),
                   "runs": len(seq), "method": METHOD["M2"].format(runs=len(seq))},
            "M2b": {"per_task_above_spawn_ms": round((statistics.median(shell) / 40 - spawn) * 1000, 3),
                    "per_task_ms": round(statistics.median(shell) / 40 * 1000, 3),
                    "spawn_ms": round(spawn * 1000, 3), "runs": len(shell),
                    "method": METHOD["M2b"].format(runs=len(shell), spawns=40)},
            "M3": {"executions_per_s": round(m3, 1), "executions": 500, "method": METHOD["M3"]},
            "MEM": {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    "method": METHOD["MEM"]},
        }
        self.stdout.write(json.dumps(result))

    def _m1(self, services: Any) -> float:
        from flows.models import TaskRun

        before = time.time()
        exe = services.create_execution("choreo.bench", "bench-one", {})
        self._wait_done([str(exe.id)])
        run = TaskRun.objects.get(execution_id=exe.id)
        started = datetime.fromisoformat(run.attempts[0]["startDate"]).timestamp()
        return started - before

    def _run_and_wait(self, services: Any, flow_id: str) -> float:
        from flows.models import Execution

        exe = services.create_execution("choreo.bench", flow_id, {})
        self._wait_done([str(exe.id)])
        exe = Execution.objects.get(id=exe.id)
        assert exe.state == "SUCCESS", exe.state
        assert exe.end_date is not None
        return (exe.end_date - exe.start_date).total_seconds()

    def _m3(self, services: Any, count: int) -> float:
        from flows.models import Execution

        start = time.time()
        ids = [str(services.create_execution("choreo.bench", "bench-one", {}).id) for _ in range(count)]
        self._wait_done(ids, timeout=600)
        ends = Execution.objects.filter(id__in=ids).values_list("end_date", flat=True)
        last_end = max(e.timestamp() for e in ends if e is not None)
        failed = Execution.objects.filter(id__in=ids).exclude(state="SUCCESS").count()
        assert failed == 0, f"{failed} bench executions did not succeed"
        return count / (last_end - start)

    def _wait_done(self, ids: list[str], timeout: float = 120) -> None:
        """Poll every few milliseconds with one cheap query: the waiter must not steal the
        engine's time (a check on every event would cost more than the work measured)."""
        from flows.models import Execution

        deadline = time.monotonic() + timeout
        last = ids[-1]
        terminal = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"]
        pending = Execution.objects.filter(id__in=ids).exclude(state__in=terminal)
        while True:
            if Execution.objects.filter(id=last, state__in=terminal).exists() and not pending.exists():
                return
            if time.monotonic() > deadline:
                raise RuntimeError("benchmark executions did not finish in time")
            time.sleep(0.01 if len(ids) == 1 else 0.05)
