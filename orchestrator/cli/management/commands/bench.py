"""``bench``: the project's benchmark, each metric in a process and a throwaway database of its own.

M1  run request (the service call the API uses, in the server process) -> first task starts
M2  per-task overhead of a 40-task sequential flow; wall time of a 40-way parallel fan-out
M2b per-task overhead of 40 sequential shell tasks running `true`, above spawning the process
M3  completed 1-task executions per second, 500 requests issued back to back
M9  per-iteration cost of a ForEach over 200 and over 2,000 values
MEM peak resident memory of the benchmark processes

Each metric has a time budget (``metrics.METRICS``) and the whole run stays within five
minutes (``runner.TOTAL_BUDGET_S``).
"""
from __future__ import annotations

import faulthandler
import json
import resource
import time
from typing import Any

from django.core.management.base import CommandParser

from orchestrator.cli.base import EXIT_FAILED, EXIT_USAGE, ChoreoCommand, Exit
from orchestrator.cli.benchmark import metrics, runner
from orchestrator.cli.benchmark.databases import DatabaseError, Target
from orchestrator.cli.benchmark.driver import Deadline, Driver


class Command(ChoreoCommand):
    help = ("Measure Choreo's speed (M1-M3, M9) and memory, each metric in a throwaway database "
            "(within 5 minutes: every metric has a time budget).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print exactly one JSON document on stdout")
        parser.add_argument(
            "--database", metavar="URL",
            help="measure this database: postgres://user@host:port/db creates (and drops) a throwaway "
                 "database per metric on that server, which needs CREATEDB; the database named is only "
                 "connected to. sqlite:///PATH puts the throwaway files in PATH's folder (PATH itself is never "
                 "opened). Default: throwaway SQLite files in the temp folder",
        )
        parser.add_argument("--runs", type=int, default=30, help="measured runs for M1 (at least 5)")
        budgets = ", ".join(f"{m.name} {m.budget_s:.0f} s" for m in metrics.METRICS)
        parser.add_argument("--metrics", metavar="M1,M9", default=",".join(m.name for m in metrics.METRICS),
                            help=f"measure only these metrics (their time budgets: {budgets}); MEM is always "
                                 "reported")
        quick = metrics.QUICK
        parser.add_argument("--quick", action="store_true",
                            help=f"for tests of bench itself: the same flows with fewer runs (M1 {quick.runs}, M2 "
                                 f"and M2b {quick.repeats}, M3 {quick.executions} executions) and M9 cut at "
                                 f"{metrics.BY_NAME['M9'].quick_budget_s:.0f} s; the figures are not comparable "
                                 "with a full run's")
        # Internal: the child process that measures one metric.
        parser.add_argument("--inner", metavar="METRIC", help="(internal) measure one metric in this process")
        parser.add_argument("--deadline", type=float, help="(internal) epoch time this process is killed at")
        parser.add_argument("--budget", type=float, help="(internal) the metric's budget, for messages")

    def execute(self, *args: Any, **options: Any) -> Any:
        if not options.get("inner"):
            return self._outer(options)
        return super().execute(*args, **options)

    def _outer(self, options: dict[str, Any]) -> None:
        chosen = self._metrics(options["metrics"])
        try:
            target = Target.parse(options["database"])
            outcome = runner.run(target, chosen, runner.Options(options["runs"], options["quick"]), self.info)
        except DatabaseError as exc:
            raise Exit(EXIT_USAGE, f"error: {exc}") from None
        result = {"database": outcome.database, **outcome.figures}
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self._print(result)
        if outcome.failed:
            raise Exit(EXIT_FAILED, "bench: a metric failed (its error is above)")

    def _metrics(self, names: str) -> list[metrics.Metric]:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in metrics.BY_NAME]
        if unknown:
            raise Exit(EXIT_USAGE, f"error: unknown metric {', '.join(unknown)}; "
                                   f"choose from {', '.join(metrics.BY_NAME)}")
        return [m for m in metrics.METRICS if m.name in wanted]

    def _print(self, result: dict[str, Any]) -> None:
        self.stdout.write(f"database: {result['database']}")
        for key, figures in result.items():
            if key == "database":
                continue
            method = figures.get("method")
            self.stdout.write(f"{key}: {json.dumps({k: v for k, v in figures.items() if k != 'method'})}")
            if method:
                self.stdout.write(f"    method: {method}")

    def handle(self, *args: Any, **options: Any) -> None:
        metric = metrics.BY_NAME[options["inner"]]
        sizes = metrics.QUICK if options["quick"] else metrics.Sizes(runs=options["runs"])
        killed_at = options["deadline"]
        # A process still running at the end of its budget is killed: print every thread's
        # stack just before, so that the report can say where it was stuck.
        faulthandler.dump_traceback_later(max(1.0, killed_at - time.time() - 1))
        driver = Driver()
        vendor, name = driver.database()

        def report(figures: metrics.Figures) -> None:
            self.stdout.write(json.dumps({
                "database": vendor, "database_name": name, "figures": figures,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }))
            self.stdout.flush()

        deadline = Deadline(killed_at - metrics.REPORT_RESERVE_S, options["budget"])
        metrics.measure(metric, driver, deadline, sizes, report)
        faulthandler.cancel_dump_traceback_later()
