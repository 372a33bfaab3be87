"""What ``bench`` measures, each metric a function of (driver, deadline, sizes) with a time budget.

A metric runs in a process and a database of its own (see ``runner``). It measures until it
is done or its deadline passes; then it reports what it measured, labelled as such, or
``{"skipped": why}``, never a figure it did not measure.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.cli.benchmark.driver import Deadline, Driver, OutOfTime

Figures = dict[str, Any]
# A metric stops measuring this long before its budget ends, to shut its engine down and report.
REPORT_RESERVE_S = 4


@dataclass(frozen=True)
class Sizes:
    runs: int = 30  # measured runs of M1
    repeats: int = 5  # measured runs of M2 and M2b
    executions: int = 500  # M3
    loops: tuple[int, ...] = (200, 2000)  # M9


# For tests of the command itself: the same flows, fewer runs (and M9 cut short, see
# Metric.quick_budget_s); the figures are not comparable with a full run's.
QUICK = Sizes(runs=5, repeats=1, executions=50)

METHOD = {
    "M1": "1-task flow (return); time from just before services.create_execution() to the start date of the "
          "task's first attempt (claimed by a worker); {warmup} warm-up runs, then {runs} runs one at a time",
    "M2": "40 sequential return tasks: (execution end - start) / 40, median of {runs} runs after a warm-up; "
          "fan-out: one parallel task with 40 return children, execution start to end",
    "M2b": "40 sequential shell tasks running `true`: (execution end - start) / 40, median (and p99) of {runs} "
           "runs after a warm-up; above spawn: that median minus the median time to spawn and reap "
           "`/bin/sh -c true` directly (subprocess.run, {spawns} times, measured in the same run)",
    "M3": "{n} executions of a 1-task flow created back to back by one thread, engine running, after {warmup} "
          "warm-up executions; executions/s = {n} / (time from the first request to the last execution's end)",
    "M9": "ForEach over {sizes} values (concurrencyLimit 1, the default), each iteration one return task "
          "rendering {{{{ taskrun.value }}}}; per_iteration_ms_N = (execution end - start) / N, one run per "
          "size after a warm-up execution (goal: equal for every N). Within the metric's budget of {budget:.0f} s, "
          "each loop but the last may use a third of the time left and the last loop the rest. A loop still "
          "running at its deadline reports per_iteration_ms_N null and partial_N: the iterations done by then "
          "and the cost per iteration over them ((end of the last one done - execution start) / iterations "
          "done), which is not comparable with a finished loop's figure: while the cost of an iteration grows "
          "with its position, the first iterations are the cheapest",
    "MEM": "peak resident set size (ru_maxrss) of each metric's process; peak_rss_mb is the largest",
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


def _loop_flow(n: int) -> str:
    values = ", ".join(str(i) for i in range(n))
    return (f"id: bench-loop-{n}\nnamespace: choreo.bench\ntasks:\n  - id: each\n    type: foreach\n"
            f"    values: [{values}]\n    tasks:\n      - id: echo\n        type: return\n"
            "        format: \"{{ taskrun.value }}\"\n")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _repeat(driver: Driver, flow_id: str, times: int, deadline: Deadline) -> list[float]:
    """Seconds from start to end of ``times`` runs, after one warm-up run."""
    driver.run(flow_id, deadline)
    return [driver.run(flow_id, deadline).seconds for _ in range(times)]


def m1(driver: Driver, deadline: Deadline, sizes: Sizes) -> Figures:
    driver.deploy(ONE)
    warmup, runs = 5, max(5, sizes.runs)
    delays = [_m1_once(driver, deadline) for _ in range(warmup + runs)][warmup:]
    return {"p50_ms": round(statistics.median(delays) * 1000, 3), "p99_ms": round(_pct(delays, 0.99) * 1000, 3),
            "runs": len(delays), "method": METHOD["M1"].format(warmup=warmup, runs=runs)}


def _m1_once(driver: Driver, deadline: Deadline) -> float:
    before = time.time()
    execution_id = driver.create("bench-one")
    driver.wait([execution_id], deadline)
    return driver.first_attempt_start(execution_id) - before


def m2(driver: Driver, deadline: Deadline, sizes: Sizes) -> Figures:
    driver.deploy(_seq_flow(40), _par_flow(40))
    seq = _repeat(driver, "bench-seq", sizes.repeats, deadline)
    par = _repeat(driver, "bench-par", sizes.repeats, deadline)
    per_task = [s / 40 * 1000 for s in seq]
    return {"per_task_ms": round(statistics.median(per_task), 3),
            "per_task_p99_ms": round(_pct(per_task, 0.99), 3),
            "sequential_40_ms": round(statistics.median(seq) * 1000, 2),
            "parallel_40_ms": round(statistics.median(par) * 1000, 2),
            "parallel_40_p99_ms": round(_pct(par, 0.99) * 1000, 2),
            "runs": len(seq), "method": METHOD["M2"].format(runs=len(seq))}


def m2b(driver: Driver, deadline: Deadline, sizes: Sizes) -> Figures:
    if not os.access("/bin/sh", os.X_OK):
        return {"skipped": "no /bin/sh on this machine: shell tasks run their commands through it"}
    driver.deploy(_shell_flow(40))
    shell = _repeat(driver, "bench-shell", sizes.repeats, deadline)
    spawn = _spawn_cost(40)
    per_task = statistics.median(shell) / 40
    return {"per_task_above_spawn_ms": round((per_task - spawn) * 1000, 3),
            "per_task_ms": round(per_task * 1000, 3),
            "per_task_p99_ms": round(_pct(shell, 0.99) / 40 * 1000, 3),
            "spawn_ms": round(spawn * 1000, 3), "runs": len(shell),
            "method": METHOD["M2b"].format(runs=len(shell), spawns=40)}


def _spawn_cost(times: int) -> float:
    costs = []
    for _ in range(times):
        start = time.perf_counter()
        subprocess.run(["/bin/sh", "-c", "true"], check=True)
        costs.append(time.perf_counter() - start)
    return statistics.median(costs)


def m3(driver: Driver, deadline: Deadline, sizes: Sizes) -> Figures:
    driver.deploy(ONE)
    # The process is fresh: a few executions first, so the figure is not its start-up.
    warmup = 20
    driver.wait([driver.create("bench-one") for _ in range(warmup)], deadline)
    n = sizes.executions
    start = time.time()
    ids = [driver.create("bench-one") for _ in range(n)]
    driver.wait(ids, deadline)
    rate = n / (driver.last_end(ids) - start)
    return {"executions_per_s": round(rate, 1), "executions": n,
            "method": METHOD["M3"].format(n=n, warmup=warmup)}


@dataclass(frozen=True)
class Loop:
    """One run of a loop of ``size`` values: finished, or cut at its deadline after ``done``."""

    size: int
    done: int
    seconds: float | None  # execution start to the end of the last iteration done
    cut_after_s: float | None = None  # None: the loop finished

    def figures(self) -> Figures:
        per_iteration = None if self.seconds is None or not self.done else round(self.seconds / self.done * 1000, 3)
        if self.cut_after_s is None:
            return {f"per_iteration_ms_{self.size}": per_iteration}
        return {f"per_iteration_ms_{self.size}": None,
                f"partial_{self.size}": {"iterations_done": self.done, "of": self.size,
                                         "per_iteration_ms_over_done": per_iteration,
                                         "cut_after_s": round(self.cut_after_s, 1)}}


def m9(driver: Driver, deadline: Deadline, sizes: Sizes) -> Figures:
    driver.deploy(ONE, *(_loop_flow(n) for n in sizes.loops))
    driver.run("bench-one", deadline)
    figures: Figures = {}
    cut: Loop | None = None
    for i, size in enumerate(sizes.loops):
        if cut is not None:
            figures |= {f"per_iteration_ms_{size}": None,
                        f"skipped_{size}": f"not run: the {cut.size}-value loop used its share of the budget"}
            continue
        last = i == len(sizes.loops) - 1
        loop = _run_loop(driver, size, deadline if last else deadline.share(1 / 3))
        figures |= loop.figures()
        cut = loop if loop.cut_after_s is not None else None
    sizes_text = " and ".join(f"{n:,}" for n in sizes.loops)
    return {**figures, "runs": 1, "method": METHOD["M9"].format(sizes=sizes_text, budget=deadline.budget_s)}


def _run_loop(driver: Driver, size: int, deadline: Deadline) -> Loop:
    execution_id = driver.create(f"bench-loop-{size}")
    try:
        # Every 0.1 s: the loop runs for seconds, and the figures are the engine's own dates.
        driver.wait([execution_id], deadline, poll=0.1)
    except OutOfTime:
        start = driver.started(execution_id)
        cut_after = time.time() - start
        done, last_end = driver.done_children(execution_id, "echo")
        return Loop(size, done, None if last_end is None else last_end - start, cut_after)
    return Loop(size, size, driver.span(execution_id).seconds)


@dataclass(frozen=True)
class Metric:
    name: str
    budget_s: float
    measure: Callable[[Driver, Deadline, Sizes], Figures]
    # With --quick; the metrics whose sizes shrink finish well within their budget anyway.
    quick_budget_s: float | None = None


METRICS: tuple[Metric, ...] = (
    Metric("M1", 20, m1),
    Metric("M2", 25, m2),
    Metric("M2b", 30, m2b),
    Metric("M3", 45, m3),
    Metric("M9", 150, m9, quick_budget_s=15),
)
BY_NAME = {m.name: m for m in METRICS}


def measure(metric: Metric, driver: Driver, deadline: Deadline, sizes: Sizes,
            report: Callable[[Figures], None]) -> None:
    """Report the metric's figures, or why there are none, with the engine running: a stop
    that hangs (the process is then killed at the end of its budget) cannot lose them."""
    driver.start()
    try:
        try:
            figures = metric.measure(driver, deadline, sizes)
        except OutOfTime:
            figures = {"skipped": f"did not finish within its budget of {deadline.budget_s:.0f} s "
                                  "(a loaded machine?)"}
        report(figures)
    finally:
        driver.stop()
