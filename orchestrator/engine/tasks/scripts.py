"""What every script task shares: its options, its files, and how its command line runs.

A script task writes ``inputFiles`` into its working directory, runs one shell command
line (``beforeCommands`` then its own lines, through ``interpreter``), and keeps the files
matching ``outputFiles`` in internal storage. Outputs, as in Kestra:
``{"exitCode": n, "vars": {...}, "outputFiles": {name: uri}}``.

``taskRunner``, ``containerImage`` and ``docker`` are accepted so Kestra flows load, and
ignored: the commands always run as processes of the worker.
"""
from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from orchestrator.engine.tasks.isolation import hand_over, process_env
from orchestrator.engine.tasks.processes import ProcessResult, run_process
from orchestrator.engine.tasks.base import RunContext, RunnableTask, TaskFailed
from orchestrator.engine.tasks.files import InputFiles, store_output_files, write_input_files


class ScriptTask(RunnableTask):
    """Options and behaviour common to the shell and Python script tasks."""

    uses_working_dir: ClassVar[bool] = True

    beforeCommands: list[str] = Field(default_factory=list)
    interpreter: list[str] = Field(default_factory=lambda: ["/bin/sh", "-c"], min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    inputFiles: InputFiles | None = None
    outputFiles: list[str] = Field(default_factory=list)
    warningOnStdErr: bool = True
    failFast: bool = True
    taskRunner: dict[str, Any] | None = None
    containerImage: str | None = None
    docker: dict[str, Any] | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        workdir = ctx.working_dir
        env = {**process_env(workdir), **{str(k): str(v) for k, v in ctx.render(self.env).items()}}
        write_input_files(ctx, self.inputFiles, workdir)
        before = [ctx.render_str(c) for c in self.beforeCommands]
        main, scratch = self.main_lines(ctx, workdir, env)
        hand_over(workdir)
        try:
            result = self.run_lines(ctx, [*before, *main], workdir, env)
        finally:
            for path in scratch:
                path.unlink(missing_ok=True)
        if result.exit_code != 0:
            raise TaskFailed(f"Command failed with exit code {result.exit_code}")
        outputs = {
            "exitCode": result.exit_code,
            "vars": result.vars,
            "outputFiles": store_output_files(ctx, [ctx.render_str(p) for p in self.outputFiles], workdir),
        }
        if result.wrote_stderr and self.warningOnStdErr:
            ctx.end_in_warning()
        return outputs

    @abc.abstractmethod
    def main_lines(self, ctx: RunContext, workdir: Path, env: dict[str, str]) -> tuple[list[str], list[Path]]:
        """This task's own command lines, and scratch files to remove after the run.
        May change ``env`` (the interpreter's PATH)."""

    def run_lines(self, ctx: RunContext, lines: Sequence[str], workdir: Path, env: dict[str, str]) -> ProcessResult:
        script = "\n".join(["set -e", *lines] if self.failFast else lines)
        argv = [*(ctx.render_str(part) for part in self.interpreter), script]
        return run_process(ctx, argv, cwd=workdir, env=env)
