"""``flows validate|deploy|list|schema|run``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from flows.models import Flow
from orchestrator.cli.base import (
    EXIT_FAILED,
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
from orchestrator.engine.store import ExecutionRow
from orchestrator.engine.dsl import FlowIssue, flow_json_schema, parse_flow

FLOW_SUFFIXES = (".yaml", ".yml")


def flow_files(paths: list[str]) -> list[Path]:
    """Files named, and the YAML files inside folders named (sorted)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in FLOW_SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise Exit(EXIT_USAGE, f"{raw}: no such file or folder")
    return files


class Unreadable(Exception):
    """A flow file that is not text: reported like any invalid flow, at the first bad byte."""

    def __init__(self, issue: FlowIssue) -> None:
        super().__init__(issue.format())
        self.issue = issue


def read_flow_file(path: Path) -> str:
    """The file's text. Raises Unreadable (not UTF-8) or Exit (cannot be read at all)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Exit(EXIT_USAGE, f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        # Everything before the first bad byte decodes: count characters, not bytes.
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8")) + 1
        message = (f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} ({exc.reason}); "
                   "save it as UTF-8 (flows are YAML text)")
        raise Unreadable(FlowIssue(message, line, column, "", str(path))) from None


def read_text(path: Path) -> str:
    """The file's text, or Exit (usage) when it cannot be read as UTF-8."""
    try:
        return read_flow_file(path)
    except Unreadable as exc:
        raise Exit(EXIT_USAGE, str(exc)) from None


class Command(ChoreoCommand):
    help = "Validate, deploy, list and run flows."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser("validate", help="check flow files; FILE:LINE:COL: message per error")
        validate.add_argument("paths", nargs="+")
        validate.add_argument("--json", action="store_true")
        deploy = sub.add_parser("deploy", help="store flows (a new revision only when the text changed)")
        deploy.add_argument("paths", nargs="+")
        deploy.add_argument("--json", action="store_true")
        listing = sub.add_parser("list", help="deployed flows")
        listing.add_argument("--json", action="store_true")
        sub.add_parser("schema", help="print the JSON Schema of the flow language")
        run = sub.add_parser("run", help="deploy a flow, run it and wait until it ends or pauses")
        run.add_argument("file")
        run.add_argument("--with", dest="with_files", action="append", default=[], metavar="FILE",
                         help="deploy this flow first (subflows)")
        run.add_argument("--input", dest="inputs", action="append", default=[], metavar="KEY=VALUE")
        add_output_flags(run)
        add_wait_flags(run)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"do_{options['action']}")(options)

    def do_validate(self, options: dict[str, Any]) -> None:
        errors: list[FlowIssue] = []
        warnings: list[FlowIssue] = []
        files = flow_files(options["paths"])
        for path in files:
            try:
                text = read_flow_file(path)
            except Unreadable as exc:
                errors.append(exc.issue)
                continue
            result = parse_flow(text, str(path))
            errors.extend(result.errors)
            warnings.extend(result.warnings)
        if options["json"]:
            self.emit_json({
                "valid": not errors,
                "files": len(files),
                "errors": [_issue_json(i) for i in errors],
                "warnings": [_issue_json(i) for i in warnings],
            })
        else:
            for issue in warnings:
                self.stderr.write(f"{issue.format()} (warning)")
            for issue in errors:
                self.stdout.write(issue.format())
            if not errors:
                self.stderr.write(f"{len(files)} flow file(s) valid")
        if errors:
            raise Exit(EXIT_FAILED)

    def do_deploy(self, options: dict[str, Any]) -> None:
        results = []
        failed = False
        for path in flow_files(options["paths"]):
            try:
                deployed = services.deploy(read_text(path), str(path))
            except services.InvalidFlow as exc:
                failed = True
                for issue in exc.issues:
                    self.stderr.write(issue.format())
                continue
            for issue in deployed.warnings:
                self.stderr.write(f"{issue.format()} (warning)")
            results.append({
                "file": str(path), "namespace": deployed.flow.namespace, "id": deployed.flow.flow_id,
                "revision": deployed.revision.number, "created": deployed.created,
            })
            if not options["json"]:
                change = "deployed" if deployed.created else "unchanged"
                self.stdout.write(f"{deployed.flow.namespace}.{deployed.flow.flow_id} revision "
                                  f"{deployed.revision.number} {change}")
        if options["json"]:
            self.emit_json(results)
        if failed:
            raise Exit(EXIT_USAGE)

    def do_list(self, options: dict[str, Any]) -> None:
        flows = Flow.objects.filter(deleted=False).order_by("namespace", "flow_id")
        rows = [{"namespace": f.namespace, "id": f.flow_id, "revision": f.revision, "disabled": f.disabled}
                for f in flows]
        if options["json"]:
            self.emit_json(rows)
            return
        for row in rows:
            disabled = " (disabled)" if row["disabled"] else ""
            self.stdout.write(f"{row['namespace']}.{row['id']}  revision {row['revision']}{disabled}")

    def do_schema(self, options: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(flow_json_schema(), indent=2, sort_keys=True))

    def do_run(self, options: dict[str, Any]) -> None:
        for extra in options["with_files"]:
            self._deploy_or_exit(Path(extra))
        deployed = self._deploy_or_exit(Path(options["file"]))
        inputs = parse_inputs(options["inputs"])
        self._warn_unknown_inputs(deployed, inputs)

        def begin(owner: str) -> ExecutionRow:
            exe = services.create_execution(deployed.flow.namespace, deployed.flow.flow_id, inputs,
                                            trigger={"type": "manual", "source": "cli"}, owner=owner)
            self.detach_id = exe.id  # from here on, Ctrl-C detaches
            self.info(f"Execution {exe.id} created")
            return exe

        exe = run_engine_until(self, begin, settled, options["timeout"])
        assert exe is not None
        print_execution(self, exe, as_json=options["json"], logs=options["logs"])
        code = exit_code_for(exe)
        if code:
            raise Exit(code)

    def _warn_unknown_inputs(self, deployed: services.Deployed, inputs: dict[str, Any]) -> None:
        """Like Kestra, a value for an input the flow does not declare is ignored; but a
        person typing ``--input`` most likely mistyped a name, so say which."""
        declared = ", ".join(deployed.inputs) or "none"
        for key in inputs:
            if key not in deployed.inputs:
                self.stderr.write(f"warning: --input {key}: flow {deployed.flow.namespace}.{deployed.flow.flow_id} "
                                  f"has no input {key!r} (its inputs: {declared}); the value is ignored")

    def _deploy_or_exit(self, path: Path) -> services.Deployed:
        if not path.is_file():
            raise Exit(EXIT_USAGE, f"{path}: no such file")
        try:
            deployed = services.deploy(read_text(path), str(path))
        except services.InvalidFlow as exc:
            raise Exit(EXIT_USAGE, "\n".join(i.format() for i in exc.issues)) from None
        for issue in deployed.warnings:
            self.stderr.write(f"{issue.format()} (warning)")
        return deployed


def _issue_json(issue: FlowIssue) -> dict[str, Any]:
    return {"file": issue.source, "line": issue.line, "column": issue.column, "path": issue.path,
            "message": issue.message}
