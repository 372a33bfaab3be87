"""Runs each metric in a child process on a throwaway database, and keeps the bench to its time.

Each metric has a time budget. Its process is told its deadline and stops there by itself,
reporting what it measured; if it does not, the runner kills it at the end of its budget
and says so. The budgets add up to less than ``TOTAL_BUDGET_S``, which the runner also
enforces, so ``bench`` finishes within five minutes whatever the metrics do.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings

from orchestrator.cli.benchmark.databases import Target, Throwaways, throwaways
from orchestrator.cli.benchmark.metrics import METHOD, Metric

# bench must finish within 300 s: this, plus starting this process and printing the result.
TOTAL_BUDGET_S = 285
# Creating and dropping a metric's database, outside its budget.
SETUP_ALLOWANCE_S = 2
# Less than this and a metric's process would spend its budget starting up.
MIN_BUDGET_S = 5


@dataclass(frozen=True)
class Options:
    runs: int
    quick: bool


@dataclass
class Outcome:
    database: str
    figures: dict[str, Any]
    failed: bool = False


def run(target: Target, metrics: list[Metric], options: Options, progress: Callable[[str], None]) -> Outcome:
    """Every metric's figures (or why not), MEM, and the database vendor the metrics ran on."""
    ends_at = time.monotonic() + TOTAL_BUDGET_S
    results: dict[str, Any] = {}
    memory: dict[str, float] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="choreo-bench-", dir=target.folder()) as tmp, \
            _terminate_as_interrupt(), throwaways(target, Path(tmp)) as dbs:
        progress(f"bench: {dbs.describe()}")
        children = _Children(dbs, Path(tmp) / "data", options, progress)
        for metric in metrics:
            planned = metric.quick_budget_s if options.quick and metric.quick_budget_s else metric.budget_s
            budget = min(planned, ends_at - time.monotonic() - SETUP_ALLOWANCE_S)
            if budget < MIN_BUDGET_S:
                results[metric.name] = {"skipped": f"not run: the bench's {TOTAL_BUDGET_S} s were spent"}
                continue
            progress(f"bench: {metric.name} (budget {budget:.0f} s)")
            report = children.measure(metric, budget)
            results[metric.name] = report.get("figures", report)
            failed = failed or "failed" in report
            if "peak_rss_mb" in report:
                memory[metric.name] = report["peak_rss_mb"]
    results["MEM"] = _memory(memory)
    return Outcome(target.vendor, results, failed)


@dataclass(frozen=True)
class _Children:
    dbs: Throwaways
    data_dir: Path
    options: Options
    progress: Callable[[str], None]

    def measure(self, metric: Metric, budget: float) -> dict[str, Any]:
        """The child's report: {database, database_name, peak_rss_mb, figures}, or {skipped} / {failed}."""
        db = self.dbs.create(metric.name)
        try:
            report = self._run(metric, db.url, budget)
        finally:
            self.dbs.drop(db)
        vendor = self.dbs.target.vendor
        if "figures" in report and (report["database"], report["database_name"]) != (vendor, db.connects_to):
            # The bug this guards against: measuring the default database instead of the one asked for.
            raise RuntimeError(f"{metric.name} was to run on {vendor} database {db.connects_to} but ran on "
                               f"{report['database']} database {report['database_name']}")
        return report

    def _run(self, metric: Metric, url: str, budget: float) -> dict[str, Any]:
        deadline = time.time() + budget
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench", "--inner", metric.name,
                "--deadline", f"{deadline:.3f}", "--budget", f"{budget:.1f}",
                "--runs", str(self.options.runs), *(["--quick"] if self.options.quick else [])]
        env = {**os.environ, "DATABASE_URL": url, "CHOREO_DATA_DIR": str(self.data_dir)}
        env.pop("CHOREO_QUEUE_BACKEND", None)
        # Its own session: Ctrl-C reaches only this process, which then ends the child here.
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, err = proc.communicate()
            self.progress(f"bench: {metric.name} killed at the end of its budget; where its threads were:\n{err}")
            return _parse(out) or {"skipped": f"killed: no result within its budget of {budget:.0f} s "
                                              "(where it was stuck: on stderr)"}
        finally:
            _kill(proc)
        if proc.returncode != 0:
            self.progress(err.rstrip())
            lines = err.strip().splitlines()
            return {"failed": f"exit {proc.returncode}: {lines[-1] if lines else 'no message'}"}
        report = _parse(out)
        assert report is not None, f"{metric.name}: no report on stdout: {out!r}"
        return report


def _parse(out: str) -> dict[str, Any] | None:
    """The child's report, if it wrote one (it may have before hanging in its engine's stop)."""
    try:
        report: dict[str, Any] = json.loads(out)
    except ValueError:
        return None
    return report


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _memory(by_metric: dict[str, float]) -> dict[str, Any]:
    if not by_metric:
        return {"skipped": "no metric process reported its memory"}
    return {"peak_rss_mb": max(by_metric.values()), "by_metric": by_metric, "method": METHOD["MEM"]}


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C: the child ends and the throwaway databases are dropped."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
