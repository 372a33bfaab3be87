"""``serve``: the standalone server (web and engine in one process), or one role of it."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from flows.models import Flow
from orchestrator.cli.base import ChoreoCommand


class Command(ChoreoCommand):
    help = "Serve Choreo: the web server and, in standalone mode, the engine."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--role", choices=("all", "web", "engine"), default="all",
                            help="all: web + engine (standalone); web: HTTP and websockets only; engine: no web")

    def handle(self, *args: Any, **options: Any) -> None:
        from orchestrator.engine.runtime import Engine

        role = options["role"]
        engine = Engine.from_settings().start() if role in ("all", "engine") else None
        try:
            if role == "engine":
                self._engine_only()
            else:
                self._web(options["host"], options["port"])
        finally:
            if engine is not None:
                engine.stop()

    def _web(self, host: str, port: int) -> None:
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from orchestrator.asgi import application

        url = f"http://{host}:{port}/"
        flows = Flow.objects.filter(deleted=False).count()
        self.stdout.write(f"Choreo is serving on {url}  ({flows} flow(s) deployed, data in {settings.CHOREO_DATA_DIR})")
        self.stdout.flush()
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            verbosity=0,
        ).run()

    def _engine_only(self) -> None:
        import signal
        import threading

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write("Choreo engine running (Ctrl-C to stop)")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
