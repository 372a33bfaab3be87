"""Sleep: wait for a fixed duration."""
from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.engine.durations import DynamicDuration, resolve_duration
from orchestrator.engine.tasks.base import RunContext, RunnableTask


class Sleep(RunnableTask):
    """Wait for ``duration`` (ISO-8601 such as PT5S, a number of seconds, or an
    expression). A kill stops the wait; a negative duration does not wait."""

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

    duration: DynamicDuration

    def run(self, ctx: RunContext) -> dict[str, Any]:
        duration = resolve_duration(self.duration, ctx.render_str, "duration")
        ctx.sleep(duration.total_seconds() if duration is not None else 0.0)
        return {}


TASK_TYPES = (Sleep,)
