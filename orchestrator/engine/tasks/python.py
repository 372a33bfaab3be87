"""Python Script and Commands: run Python code as a process of the worker.

The interpreter is the worker's own (``sys.executable``), or, with ``dependencies``, the
python of a cached virtual environment holding them (see pyenvs); its folder comes first
on PATH, so ``python`` in commands is that interpreter. Scripts can ``import choreo`` and
``from kestra import Kestra`` to send outputs and metrics. ``pythonVersion`` is accepted
and ignored (the worker's Python runs every script).
"""
from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from orchestrator.engine.tasks.pyenvs import python_for
from orchestrator.engine.scriptlib import SCRIPTLIB_DIR
from orchestrator.engine.tasks.base import RunContext
from orchestrator.engine.tasks.scripts import ScriptTask


class PythonTask(ScriptTask):
    """Options of both Python tasks."""

    dependencies: list[str] = Field(default_factory=list)
    pythonVersion: str | None = None

    def python(self, ctx: RunContext, env: dict[str, str]) -> str:
        """The interpreter, with ``env`` set up for it (PATH, PYTHONPATH, unbuffered output)."""
        python = python_for(ctx, [ctx.render_str(d) for d in self.dependencies], env)
        env["PATH"] = os.pathsep.join(p for p in (os.path.dirname(python), env.get("PATH")) if p)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SCRIPTLIB_DIR), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("PYTHONIOENCODING", "utf-8")
        return python


class Script(PythonTask):
    """Run an inline Python ``script`` (after ``beforeCommands``); a non-zero exit fails."""

    short_name: ClassVar[str] = "python"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.python.Script",)
    example: ClassVar[str] = """\
id: python_script
namespace: company.team
tasks:
  - id: analyse
    type: io.kestra.plugin.scripts.python.Script
    outputFiles:
      - report.json
    script: |
      import json
      from kestra import Kestra

      rows = [{"name": "alpha"}, {"name": "beta"}]
      with open("report.json", "w") as f:
          json.dump(rows, f)
      Kestra.outputs({"count": len(rows)})
      Kestra.counter("rows", len(rows))
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.analyse.vars.count }} rows"
"""

    script: str

    def main_lines(self, ctx: RunContext, workdir: Path, env: dict[str, str]) -> tuple[list[str], list[Path]]:
        python = self.python(ctx, env)
        fd, name = tempfile.mkstemp(prefix=f".{self.id}-", suffix=".py", dir=workdir)
        path = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(ctx.render_str(self.script))
        return [f"{shlex.quote(python)} -u {shlex.quote(path.name)}"], [path]


class Commands(PythonTask):
    """Run ``commands`` in one shell where ``python`` is the task's interpreter."""

    short_name: ClassVar[str] = "python_commands"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.python.Commands",)
    example: ClassVar[str] = """\
id: python_commands
namespace: company.team
tasks:
  - id: run
    type: io.kestra.plugin.scripts.python.Commands
    inputFiles:
      main.py: |
        import choreo
        choreo.outputs({"greeting": "hello"})
    commands:
      - python main.py
"""

    commands: list[str] = Field(min_length=1)

    def main_lines(self, ctx: RunContext, workdir: Path, env: dict[str, str]) -> tuple[list[str], list[Path]]:
        self.python(ctx, env)
        return [ctx.render_str(c) for c in self.commands], []


TASK_TYPES = (Script, Commands)
