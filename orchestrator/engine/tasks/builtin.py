"""The task modules Choreo ships (settings.CHOREO_TASK_MODULES starts from this list)."""

BUILTIN_TASK_MODULES = (
    "orchestrator.engine.tasks.log",
    "orchestrator.engine.tasks.return_",
    "orchestrator.engine.tasks.output_values",
    "orchestrator.engine.tasks.sleep",
    "orchestrator.engine.tasks.fail",
    "orchestrator.engine.tasks.sequential",
    "orchestrator.engine.tasks.parallel",
    "orchestrator.engine.tasks.if_",
    "orchestrator.engine.tasks.switch",
    "orchestrator.engine.tasks.foreach",
    "orchestrator.engine.tasks.pause",
    "orchestrator.engine.tasks.subflow",
    "orchestrator.engine.tasks.dag",
    "orchestrator.engine.tasks.allow_failure",
    "orchestrator.engine.tasks.labels",
    "orchestrator.engine.tasks.foreach_item",
)
