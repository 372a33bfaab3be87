"""``worker --job JSON``: run one job in this process, as a remote worker would.

The job is the small reference an engine queues (``{"execution_id", "taskrun_id",
"revision_id", "attempt"}``); everything else comes from the database. The process
registers as an instance, heartbeats, obeys kills sent on the bus, and exits when the
attempt is reported. (The Celery backend runs the same code for each job it receives.)
"""
from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from orchestrator.cli.base import EXIT_USAGE, ChoreoCommand, Exit


class Command(ChoreoCommand):
    help = "Run one serialised job (a task run attempt) in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--job", required=True, help="the job as JSON, or - to read it from stdin")

    def handle(self, *args: Any, **options: Any) -> None:
        from orchestrator.engine.infra import infra
        from orchestrator.engine.queue.base import Job
        from orchestrator.engine.worker.standalone import StandaloneWorker

        text = sys.stdin.read() if options["job"] == "-" else options["job"]
        try:
            job = Job.from_json(text)
        except (ValueError, KeyError, TypeError) as exc:
            raise Exit(EXIT_USAGE, f"error: --job is not a job ({exc}): expected "
                                   '{"execution_id", "taskrun_id", "revision_id", "attempt"}') from None
        StandaloneWorker(infra(), settings.CHOREO_HEARTBEAT_SECONDS).run(job)
