"""The executor: a pure ``decide(spec, snapshot, now)`` and the types it speaks."""
from orchestrator.engine.executor.decide import decide
from orchestrator.engine.executor.decisions import (
    CreateTaskRun,
    Decision,
    LogLine,
    RetryExecution,
    StartSubflow,
    UpdateExecution,
    UpdateTaskRun,
)
from orchestrator.engine.executor.snapshot import ExecutionView, TaskRunView

__all__ = [
    "decide",
    "Decision",
    "CreateTaskRun",
    "UpdateTaskRun",
    "UpdateExecution",
    "StartSubflow",
    "RetryExecution",
    "LogLine",
    "ExecutionView",
    "TaskRunView",
]
