"""Log: write messages to the execution's logs."""
from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.engine.tasks.base import Level, RunContext, RunnableTask


class Log(RunnableTask):
    """Log one message, or each message of a list, at the given level."""

    short_name: ClassVar[str] = "log"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.log.Log")
    example: ClassVar[str] = """\
id: hello
namespace: company.team
tasks:
  - id: say_hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello from {{ flow.id }}"
    level: WARN
"""

    message: str | list[str]
    level: Level = Level.INFO

    def run(self, ctx: RunContext) -> dict[str, Any]:
        messages = [self.message] if isinstance(self.message, str) else self.message
        for message in messages:
            ctx.log(self.level, ctx.render_str(message))
        return {}


class Echo(RunnableTask):
    """Log a message (deprecated: use Log)."""

    short_name: ClassVar[str] = "echo"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.debug.Echo", "io.kestra.core.tasks.debugs.Echo")
    deprecated: ClassVar[str | None] = "use io.kestra.plugin.core.log.Log instead"
    example: ClassVar[str] = """\
id: echo
namespace: company.team
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    format: "Running {{ task.id }}"
"""

    format: str
    level: Level = Level.INFO

    def run(self, ctx: RunContext) -> dict[str, Any]:
        ctx.log(self.level, ctx.render_str(self.format))
        return {}


TASK_TYPES = (Log, Echo)
