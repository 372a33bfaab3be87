"""Subflow: start an execution of another flow, and wait for it by default."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, field_validator

from orchestrator.engine.numbers import Int32
from orchestrator.engine.tasks.base import FlowableTask
from orchestrator.engine.tasks.labels import labels_as_dict


class SubflowCall(BaseModel):
    """What starting another flow takes; shared by Subflow and ForEachItem."""

    namespace: str
    flowId: str
    revision: Int32 | None = None
    inputs: dict[str, Any] = {}
    wait: bool = True
    transmitFailed: bool = True
    labels: dict[str, str] = {}
    inheritLabels: bool = False
    scheduleDate: str | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return {} if value is None else labels_as_dict(value)

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        return {} if value is None else value

    def call_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SubflowCall.model_fields}


class Subflow(SubflowCall, FlowableTask):
    """Start ``namespace``/``flowId`` with ``inputs``; with ``wait``, end as it ends.

    With ``transmitFailed`` a failed subflow fails this task. ``outputs`` are rendered
    against the subflow's task outputs once it is over.
    """

    short_name: ClassVar[str] = "subflow"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.Subflow", "io.kestra.core.tasks.flows.Subflow")
    # Kestra's older Flow task, replaced by Subflow.
    deprecated_aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Flow",
        "io.kestra.core.tasks.flows.Flow",
    )
    example: ClassVar[str] = """\
id: parent
namespace: company.team
tasks:
  - id: call_child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      customer: Alice
    wait: true
    transmitFailed: true
    labels:
      caller: parent
"""

    outputs: dict[str, Any] | None = None


TASK_TYPES = (Subflow,)
