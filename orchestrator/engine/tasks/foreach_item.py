"""ForEachItem: split a stored file into batches and run a subflow per batch.

Like Kestra, the task unfolds into three steps, each a task run of its own so that
they are retried, restarted and shown like any other: ``<id>_split`` (a worker splits
the file and stores the batches), ``<id>_items`` (one ``<id>_subflow`` execution per
batch; ``{{ taskrun.items }}`` is the batch's URI) and ``<id>_merge`` (the subflows'
outputs, one JSON line per batch, stored as ``subflowOutputs``).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from orchestrator.engine.numbers import Int32
from orchestrator.engine.tasks.base import FlowableTask, RunContext, RunnableTask, Task, TaskFailed
from orchestrator.engine.tasks.subflow import Subflow, SubflowCall

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?i?B?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "KB": 1024, "KIB": 1024, "MB": 1024**2, "MIB": 1024**2, "GB": 1024**3, "GIB": 1024**3}


def parse_size(text: str | int) -> int:
    """``10MB``, ``512KB``, ``1024`` (bytes)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(f"invalid size {text!r}: use a number of bytes or 10KB, 5MB, 1GB")
    return int(float(match.group(1)) * _UNITS[unit])


class Batch(BaseModel):
    """How to cut the file: ``rows`` per batch (default 1), at most ``bytes`` per batch, or
    ``partitions`` batches of (nearly) equal row counts. ``separator`` ends a row."""

    model_config = ConfigDict(extra="forbid")

    rows: Int32 | None = Field(default=None, ge=1)
    bytes: str | int | None = None
    partitions: Int32 | None = Field(default=None, ge=1)
    separator: str = "\n"

    @field_validator("bytes")
    @classmethod
    def _bytes(cls, value: str | int | None) -> str | int | None:
        if value is not None and parse_size(value) < 1:
            raise ValueError("bytes must be at least 1")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Batch:
        if sum(x is not None for x in (self.rows, self.bytes, self.partitions)) > 1:
            raise ValueError("set only one of rows, bytes and partitions")
        return self


def split_rows(lines: list[str], batch: Batch) -> Iterator[list[str]]:
    if batch.partitions:
        size = max(1, -(-len(lines) // batch.partitions))
        for start in range(0, len(lines), size):
            yield lines[start:start + size]
        return
    if batch.bytes is not None:
        limit, used = parse_size(batch.bytes), 0
        chunk: list[str] = []
        for line in lines:
            length = len(line.encode())
            if chunk and used + length > limit:
                yield chunk
                chunk, used = [], 0
            chunk.append(line)
            used += length
        if chunk:
            yield chunk
        return
    rows = batch.rows or 1
    for start in range(0, len(lines), rows):
        yield lines[start:start + rows]


class ForEachItemSplit(RunnableTask):
    """Step 1 of ForEachItem: split the file into stored batches."""

    short_name: ClassVar[str] = "foreach_item_split"
    uses_working_dir: ClassVar[bool] = True

    items: str
    batch: Batch

    def run(self, ctx: RunContext) -> dict[str, Any]:
        uri = ctx.render_str(self.items).strip()
        text = ctx.read(uri)
        separator = self.batch.separator
        lines = [line + separator for line in text.split(separator)]
        if lines and lines[-1] == separator:
            lines.pop()  # the file ended with a separator: no empty last row
        splits = []
        for index, rows in enumerate(split_rows(lines, self.batch)):
            path = ctx.working_dir / f"batch-{index}{Path(uri).suffix}"
            path.write_text("".join(rows))
            splits.append(ctx.store(path, path.name))
        ctx.log("INFO", f"Split {len(lines)} row(s) of {uri} into {len(splits)} batch(es)")
        return {"splits": splits, "numberOfBatches": len(splits)}


class ForEachItemBatches(FlowableTask):
    """Step 2 of ForEachItem: one subflow execution per batch, all at once."""

    short_name: ClassVar[str] = "foreach_item_items"

    split_id: str
    _subflow: Subflow | None = PrivateAttr(default=None)
    # One list object for the task's life: the executor keeps a loop's progress per list.
    _tasks: list[Task] = PrivateAttr(default_factory=list)

    def child_lists(self) -> dict[str, list[Task]]:
        if self._subflow is not None and not self._tasks:
            self._tasks.append(self._subflow)
        return {"tasks": self._tasks} if self._subflow is not None else {}


class ForEachItemMerge(RunnableTask):
    """Step 3 of ForEachItem: the subflows' outputs, one JSON line per batch, in order."""

    short_name: ClassVar[str] = "foreach_item_merge"
    uses_working_dir: ClassVar[bool] = True

    split_id: str
    subflow_id: str

    def run(self, ctx: RunContext) -> dict[str, Any]:
        splits: list[str] = ctx.render_typed("{{ outputs['%s'].splits }}" % self.split_id)
        results: dict[str, Any] = ctx.render_typed("{{ outputs['%s'] ?? {} }}" % self.subflow_id) if splits else {}
        path = ctx.working_dir / "subflow-outputs.jsonl"
        states: Counter[str] = Counter()
        with path.open("w") as handle:
            for uri in splits:
                result = results.get(uri) or {}
                states[str(result.get("state", "CREATED"))] += 1
                handle.write(json.dumps(result.get("outputs") or {}, separators=(",", ":")) + "\n")
        return {"subflowOutputs": ctx.store(path, path.name), "numberOfBatches": len(splits),
                "iterations": dict(states)}


class ForEachItem(SubflowCall, FlowableTask):
    """Split the stored file ``items`` into batches and run the subflow once per batch.

    The subflow receives the batch's URI through ``{{ taskrun.items }}`` in ``inputs``.
    Outputs (``<id>_merge``): ``subflowOutputs`` (a file of one JSON line per batch),
    ``numberOfBatches`` and ``iterations`` (batches per end state).
    """

    short_name: ClassVar[str] = "foreach_item"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.ForEachItem",
        "io.kestra.core.tasks.flows.ForEachItem",
    )
    example: ClassVar[str] = """\
id: orders
namespace: company.team
inputs:
  - id: file
    type: FILE
tasks:
  - id: each_batch
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 100
    namespace: company.team
    flowId: process_orders
    wait: true
    transmitFailed: true
    inputs:
      orders: "{{ taskrun.items }}"
"""

    items: str
    batch: Batch = Field(default_factory=Batch)

    _steps: list[Task] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any) -> None:
        split = ForEachItemSplit(id=f"{self.id}_split", type=ForEachItemSplit.short_name, items=self.items,
                                 batch=self.batch, retry=self.retry)
        subflow = Subflow(id=f"{self.id}_subflow", type=Subflow.short_name, **self.call_fields())
        items = ForEachItemBatches(id=f"{self.id}_items", type=ForEachItemBatches.short_name, split_id=split.id)
        items._subflow = subflow
        merge = ForEachItemMerge(id=f"{self.id}_merge", type=ForEachItemMerge.short_name, split_id=split.id,
                                 subflow_id=subflow.id)
        self._steps = [split, items, merge]

    def child_lists(self) -> dict[str, list[Task]]:
        return {"steps": list(self._steps)}

    @property
    def steps(self) -> list[Task]:
        return self._steps


TASK_TYPES = (ForEachItem,)

__all__ = ["ForEachItem", "ForEachItemBatches", "ForEachItemMerge", "ForEachItemSplit", "TaskFailed", "parse_size"]
