"""OutputValues: expose rendered values as the ``values`` output."""
from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.engine.tasks.base import RunContext, RunnableTask


class OutputValues(RunnableTask):
    """Render every value of ``values`` and return them as the output ``values``."""

    short_name: ClassVar[str] = "output_values"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.output.OutputValues",
        "io.kestra.core.tasks.outputs.OutputValues",
    )
    example: ClassVar[str] = """\
id: outputs
namespace: company.team
tasks:
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      customer: Alice
      started: "{{ execution.startDate }}"
"""

    values: dict[str, Any]

    def run(self, ctx: RunContext) -> dict[str, Any]:
        return {"values": ctx.render(self.values)}


TASK_TYPES = (OutputValues,)
