"""Shell Commands and Script: run shell command lines as a process of the worker.

Kestra's older ``io.kestra.core.tasks.scripts.Bash`` is not an alias: its options differ
(``interpreter`` is a string, ``exitOnFailed``, ``outputsFiles``, ``files``).
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from orchestrator.engine.tasks.base import RunContext
from orchestrator.engine.tasks.scripts import ScriptTask


class Commands(ScriptTask):
    """Run ``commands`` one after another in one shell (``set -e`` unless ``failFast: false``);
    stdout lines are INFO logs, stderr lines WARN logs; a non-zero exit fails the task."""

    short_name: ClassVar[str] = "shell"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.shell.Commands",)
    example: ClassVar[str] = """\
id: shell_commands
namespace: company.team
tasks:
  - id: count
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      GREETING: "Hello from {{ flow.id }}"
    inputFiles:
      names.txt: |
        alpha
        beta
    outputFiles:
      - "*.csv"
    commands:
      - echo "$GREETING"
      - wc -l < names.txt
      - echo "name,length" > lengths.csv
      - echo '::{"outputs":{"count":2}}::'
"""

    commands: list[str] = Field(min_length=1)

    def main_lines(self, ctx: RunContext, workdir: Path, env: dict[str, str]) -> tuple[list[str], list[Path]]:
        return [ctx.render_str(c) for c in self.commands], []


class Script(ScriptTask):
    """Run an inline shell ``script`` (after ``beforeCommands``), like Commands."""

    short_name: ClassVar[str] = "shell_script"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.shell.Script",)
    example: ClassVar[str] = """\
id: shell_script
namespace: company.team
tasks:
  - id: script
    type: io.kestra.plugin.scripts.shell.Script
    script: |
      for name in alpha beta; do
        echo "processing $name"
      done
      echo "done" > result.txt
    outputFiles:
      - result.txt
"""

    script: str

    def main_lines(self, ctx: RunContext, workdir: Path, env: dict[str, str]) -> tuple[list[str], list[Path]]:
        return [ctx.render_str(self.script)], []


TASK_TYPES = (Commands, Script)
