"""Sleep: wait for a fixed duration."""
from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.engine.durations import Duration
from orchestrator.engine.tasks.base import RunContext, RunnableTask


class Sleep(RunnableTask):
    """Wait for ``duration`` (ISO-8601, such as PT5S). A kill stops the wait."""

    short_name: ClassVar[str] = "sleep"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.Sleep", "io.kestra.core.tasks.flows.Sleep")
    example: ClassVar[str] = """\
id: wait
namespace: company.team
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
"""

    duration: Duration

    def run(self, ctx: RunContext) -> dict[str, Any]:
        ctx.sleep(self.duration.total_seconds())
        return {}


TASK_TYPES = (Sleep,)
