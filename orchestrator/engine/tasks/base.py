"""The base classes every task type derives from, and the contract with the engine.

A task type is a pydantic model (its options, validated from YAML) plus behaviour:
- a RunnableTask is executed by a worker: ``run(ctx)`` returns the task's outputs;
- a FlowableTask is resolved by the executor: it decides which child task runs exist.
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from orchestrator.engine.durations import DynamicDuration, Timeout
from orchestrator.engine.numbers import Int32

ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"


class Level(str, Enum):
    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.TRACE: 0, Level.DEBUG: 1, Level.INFO: 2, Level.WARN: 3, Level.ERROR: 4}


class TaskFailed(Exception):
    """Raised by a task to fail its attempt with a message meant for the user."""


class TaskKilled(Exception):
    """Raised inside a running task when its execution is killed or it times out."""


class RetryPolicy(BaseModel):
    """How a failed attempt is retried. ``maxAttempt`` counts the first try.

    ``behavior``: RETRY_FAILED_TASK runs the failed task again in the same execution;
    CREATE_NEW_EXECUTION ends the execution RETRIED and starts a new one of the flow.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["constant", "exponential", "random"]
    # Kestra 0.24 renamed maxAttempt to maxAttempts and kept the old name as an alias.
    maxAttempt: Int32 | None = Field(default=None, ge=1, validation_alias=AliasChoices("maxAttempt", "maxAttempts"))
    maxDuration: DynamicDuration | None = None
    interval: DynamicDuration | None = None
    maxInterval: DynamicDuration | None = None
    minInterval: DynamicDuration | None = None
    delayFactor: float | None = None
    warningOnRetry: bool = False
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] = "RETRY_FAILED_TASK"

    @field_validator("behavior", mode="before")
    @classmethod
    def _older_behavior_names(cls, value: Any) -> Any:
        # Older Kestra releases spelled them RETRY_FAILED and NEW_EXECUTION.
        return _OLD_BEHAVIORS.get(value, value) if isinstance(value, str) else value


_OLD_BEHAVIORS = {"RETRY_FAILED": "RETRY_FAILED_TASK", "NEW_EXECUTION": "CREATE_NEW_EXECUTION"}


class RunContext(Protocol):
    """What a running task may use. Implemented by the worker."""

    execution_id: str
    taskrun_id: str
    value: str | None
    attempt: int

    def render(self, value: Any) -> Any:
        """Render every string inside ``value`` (str, list, dict) as a template."""

    def render_str(self, template: str) -> str:
        """Render one template to text."""

    def render_typed(self, template: Any) -> Any:
        """Render; a string that is a single ``{{ expr }}`` keeps the expression's type."""

    def log(self, level: Level | str, message: str) -> None:
        """Emit a log line of this task run (filtered by the task's logLevel)."""

    def sleep(self, seconds: float) -> None:
        """Wait; raises TaskKilled if the execution is killed or the task times out."""

    def set_labels(self, labels: Mapping[str, str]) -> None:
        """Merge labels into the execution's labels."""

    @property
    def killed(self) -> bool:
        """True once the attempt must stop."""

    def on_stop(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` from another thread when the attempt must stop (reason
        ``killed`` or ``timeout``); at once if it already must. Process tasks kill here."""

    def secret(self, name: str) -> str:
        """A secret's value (see secrets.lookup_secret); masked in logs from then on."""

    def mask(self, text: str) -> str:
        """``text`` with every secret seen by this attempt replaced by ********."""

    def store(self, path: Path, name: str | None = None) -> str:
        """Keep a file in internal storage under this task run; returns its choreo:// URI."""

    def read(self, uri: str) -> str:
        """A stored file's text."""

    @property
    def working_dir(self) -> Path:
        """This attempt's own folder (removed afterwards), or the one shared by the children
        of a WorkingDirectory. Tasks with ``uses_working_dir = True`` also get it as
        ``{{ workingDir }}`` in expressions."""

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics the task emitted (kept with the task run)."""

    def end_in_warning(self) -> None:
        """End this attempt in WARNING instead of SUCCESS; its outputs are kept."""


class Task(BaseModel, abc.ABC):
    """Properties every task has. Subclasses add their own and set the class metadata."""

    # Jackson turns a YAML number into a string property; Kestra flows rely on it (format: 42).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)

    # The short Choreo name (``log``); ``type`` keeps what the user wrote.
    short_name: ClassVar[str]
    # Kestra's names accepted for this type (io.kestra.plugin.core.* and io.kestra.core.tasks.*).
    aliases: ClassVar[tuple[str, ...]] = ()
    # Names that validate with a deprecation warning.
    deprecated_aliases: ClassVar[tuple[str, ...]] = ()
    deprecated: ClassVar[str | None] = None
    example: ClassVar[str] = ""
    # Runnable tasks that work with files get a per-attempt folder ({{ workingDir }}).
    uses_working_dir: ClassVar[bool] = False
    # A flowable whose runnable children share one folder (WorkingDirectory).
    shares_working_dir: ClassVar[bool] = False

    id: str = Field(pattern=ID_PATTERN, max_length=100)
    type: str
    description: str | None = None
    disabled: bool = False
    timeout: Timeout | None = None
    retry: RetryPolicy | None = None
    allowFailure: bool = False
    allowWarning: bool = False
    runIf: str | bool = True
    logLevel: Level | None = None
    logToFile: bool = False
    workerGroup: dict[str, Any] | None = None

    def child_lists(self) -> dict[str, list[Task]]:
        """Named lists of child tasks (``tasks``, ``errors``, ``then``, ``cases.X`` ...)."""
        return {}

    def walk(self) -> Iterator[Task]:
        """This task and every task below it, depth first in YAML order."""
        yield self
        for children in self.child_lists().values():
            for child in children:
                yield from child.walk()

    @property
    def is_flowable(self) -> bool:
        return False


class RunnableTask(Task):
    """A task a worker runs."""

    @abc.abstractmethod
    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Do the work; return the outputs. Raise TaskFailed to fail with a message."""


class FlowableTask(Task):
    """A task that orchestrates child tasks; the executor resolves it."""

    @property
    def is_flowable(self) -> bool:
        return True
