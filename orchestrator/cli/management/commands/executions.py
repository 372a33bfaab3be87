"""``executions resume|restart|replay|kill|wait|show|list|logs``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandParser

from flows.models import Execution
from orchestrator.cli.base import (
    EXIT_USAGE,
    ChoreoCommand,
    Exit,
    add_output_flags,
    add_wait_flags,
    exit_code_for,
    parse_inputs,
    print_execution,
    run_engine_until,
    settled,
)
from orchestrator.engine import services
from orchestrator.engine.infra import infra
from orchestrator.engine.journal import log_payload
from orchestrator.engine.serialize import execution_json
from orchestrator.engine.states import State
from orchestrator.engine.store import ExecutionRow


def _terminal(exe: ExecutionRow) -> bool:
    return exe.state.is_terminal


class Command(ChoreoCommand):
    help = "Inspect and control executions."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        resume = sub.add_parser("resume", help="resume a paused execution")
        resume.add_argument("id")
        resume.add_argument("--input", dest="inputs", action="append", default=[], metavar="KEY=VALUE")
        for name, text in (("restart", "run a failed execution again from its failed tasks"),
                           ("kill", "stop an execution"), ("wait", "wait until the execution ends"),
                           ("show", "print an execution")):
            p = sub.add_parser(name, help=text)
            p.add_argument("id")
            add_output_flags(p)
            if name != "show":
                add_wait_flags(p)
        add_output_flags(resume)
        add_wait_flags(resume)
        replay = sub.add_parser("replay", help="a new execution from a chosen task")
        replay.add_argument("id")
        replay.add_argument("--from", dest="from_task", required=True, metavar="TASK_ID")
        add_output_flags(replay)
        add_wait_flags(replay)
        listing = sub.add_parser("list", help="recent executions")
        listing.add_argument("--flow", help="NAMESPACE.FLOW_ID")
        listing.add_argument("--state", help="only this state")
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--json", action="store_true")
        purge = sub.add_parser("purge", help="delete a finished execution, its logs and stored files")
        purge.add_argument("id")
        purge.add_argument("--json", action="store_true")
        logs = sub.add_parser("logs", help="print the logs of an execution")
        logs.add_argument("id")
        logs.add_argument("--follow", action="store_true", help="keep printing until the execution ends")
        logs.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"do_{options['action']}")(options)

    def _finish(self, begin: Callable[[str], ExecutionRow | None], options: dict[str, Any],
                done: Any = settled) -> None:
        exe = run_engine_until(self, begin, done, options.get("timeout"))
        if exe is None:
            return
        print_execution(self, exe, as_json=options["json"], logs=options.get("logs", False))
        code = exit_code_for(exe)
        if code:
            raise Exit(code)

    def do_resume(self, options: dict[str, Any]) -> None:
        def begin(owner: str) -> ExecutionRow | None:
            exe, resumed = services.resume(options["id"], parse_inputs(options["inputs"]))
            if not resumed:
                self.info(f"Execution {exe.id} is {exe.state.value}, not paused: nothing to resume")
                print_execution(self, exe, as_json=options["json"], logs=options["logs"])
                return None
            return exe

        self._finish(begin, options, _resumed_and_settled(options["id"]))

    def do_restart(self, options: dict[str, Any]) -> None:
        def begin(owner: str) -> ExecutionRow:
            exe = services.restart(options["id"])
            self.info(f"Execution {exe.id} restarted")
            return exe

        self._finish(begin, options, _restarted_and_settled)

    def do_replay(self, options: dict[str, Any]) -> None:
        def begin(owner: str) -> ExecutionRow:
            exe = services.replay(options["id"], options["from_task"], owner=owner)
            self.detach_id = exe.id
            self.info(f"Execution {exe.id} created (replay of {options['id']} from {options['from_task']})")
            return exe

        self._finish(begin, options)

    def do_kill(self, options: dict[str, Any]) -> None:
        def begin(owner: str) -> ExecutionRow | None:
            exe, killed = services.kill(options["id"])
            if not killed:
                self.info(f"Execution {exe.id} is {exe.state.value}: nothing to kill")
                print_execution(self, exe, as_json=options["json"], logs=options["logs"])
                return None
            return exe

        self._finish(begin, options, _terminal)

    def do_wait(self, options: dict[str, Any]) -> None:
        exe = services.get_execution(options["id"])
        self._finish(lambda owner: exe, options, _terminal)

    def do_show(self, options: dict[str, Any]) -> None:
        exe = services.get_execution(options["id"])
        print_execution(self, exe, as_json=options["json"], logs=options["logs"])

    def do_purge(self, options: dict[str, Any]) -> None:
        files = services.purge(options["id"])
        if options["json"]:
            self.emit_json({"id": options["id"], "purged": True, "files": files})
        else:
            self.stdout.write(f"Execution {options['id']} purged ({files} stored file(s) removed)")

    def do_list(self, options: dict[str, Any]) -> None:
        rows = Execution.objects.order_by("-created_at")
        if options["flow"]:
            namespace, _, flow_id = options["flow"].rpartition(".")
            if not namespace:
                raise Exit(EXIT_USAGE, "error: --flow expects NAMESPACE.FLOW_ID")
            rows = rows.filter(namespace=namespace, flow_id=flow_id)
        if options["state"]:
            state = options["state"].upper()
            if state not in State.__members__:
                raise Exit(EXIT_USAGE, f"error: unknown state {options['state']!r}")
            rows = rows.filter(state=state)
        rows = rows[: max(1, options["limit"])]
        if options["json"]:
            store = infra().store
            documents = []
            for e in rows:
                row = store.get_execution(str(e.id))
                if row is not None:
                    documents.append({k: v for k, v in execution_json(store, row).items() if k != "taskRuns"})
            self.emit_json(documents)
            return
        for e in rows:
            self.stdout.write(f"{e.id}  {e.namespace}.{e.flow_id}  {e.state:<9} {e.start_date.isoformat()}")

    def do_logs(self, options: dict[str, Any]) -> None:
        exe = services.get_execution(options["id"])
        parts = infra()
        last = 0
        documents: list[dict[str, Any]] = []
        while True:
            seen = parts.changes.generation
            for line in parts.store.logs(exe.id, since_seq=last):
                last = line.seq
                data = log_payload(line)
                if options["json"]:
                    documents.append(data)
                else:
                    task = f" {line.task_id}" if line.task_id else ""
                    self.stdout.write(f"{data['date']} {line.level:<5}{task} {line.message}")
            current = parts.store.get_execution(exe.id)
            if not options["follow"] or current is None or current.state.is_terminal:
                # One more read after the end: nothing logged before the end is missed.
                if options["follow"] and parts.store.logs(exe.id, since_seq=last, limit=1):
                    continue
                break
            try:
                parts.changes.wait(seen, 0.5)
            except KeyboardInterrupt:
                break
        if options["json"]:
            self.emit_json(documents)


def _resumed_and_settled(execution_id: str) -> Any:
    def done(exe: ExecutionRow) -> bool:
        return exe.state.is_terminal or (exe.state == State.PAUSED and not _any_running(execution_id))
    return done


_BUSY = (State.CREATED, State.QUEUED, State.RUNNING, State.RETRYING)


def _any_running(execution_id: str) -> bool:
    return any(r.state in _BUSY for r in infra().store.load_taskruns(execution_id))


def _restarted_and_settled(exe: ExecutionRow) -> bool:
    return exe.state != State.RESTARTED and settled(exe)
