"""Fail: end the task (and so the execution) in FAILED, optionally on a condition."""
from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.engine.tasks.base import RunContext, RunnableTask, TaskFailed


class Fail(RunnableTask):
    """Fail with ``errorMessage``: always, or when ``condition`` renders to a truthy value."""

    short_name: ClassVar[str] = "fail"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.execution.Fail",
        "io.kestra.core.tasks.executions.Fail",
    )
    example: ClassVar[str] = """\
id: fail_on_condition
namespace: company.team
inputs:
  - id: param
    type: STRING
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.param == 'fail' }}"
    errorMessage: "Asked to fail by {{ inputs.param }}"
"""

    condition: str | None = None
    errorMessage: str = "Task failure"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        # Imported on use: parsing flows loads every task module and needs no template engine.
        from orchestrator.engine.expressions import is_truthy

        if self.condition is None or is_truthy(ctx.render_typed(self.condition)):
            raise TaskFailed(ctx.render_str(self.errorMessage))
        return {}


TASK_TYPES = (Fail,)
