"""Return: render a template and expose it as the ``value`` output."""
from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.engine.tasks.base import RunContext, RunnableTask


class Return(RunnableTask):
    """Render ``format`` and return it as the output ``value``."""

    short_name: ClassVar[str] = "return"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.debug.Return", "io.kestra.core.tasks.debugs.Return")
    example: ClassVar[str] = """\
id: return_value
namespace: company.team
tasks:
  - id: date
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.startDate }}"
"""

    format: str | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        return {"value": ctx.render_str(self.format) if self.format is not None else None}


TASK_TYPES = (Return,)
