"""ForEachItem, FILE inputs and purge, through the real engine and internal storage."""
from __future__ import annotations

import json
from pathlib import Path

from flows.models import Execution
from orchestrator.engine import services
from orchestrator.engine.storage import StorageError, storage
from tests.helpers import Runner

CHILD = """
id: count-rows
namespace: t
inputs:
  - {id: rows, type: FILE}
tasks:
  - id: count
    type: return
    format: "{{ read(inputs.rows) | trim | split('\\n') | length }}"
outputs:
  - {id: count, type: INT, value: "{{ outputs.count.value }}"}
"""

PARENT = """
id: batches
namespace: t
inputs:
  - {id: file, type: FILE}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch: {rows: 2}
    namespace: t
    flowId: count-rows
    inputs:
      rows: "{{ taskrun.items }}"
  - id: total
    type: return
    format: "{{ outputs.each_merge.numberOfBatches }}"
"""


def test_foreach_item_runs_a_subflow_per_batch_and_merges_their_outputs(runner: Runner, tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("a\nb\nc\nd\ne\n")
    exe = runner.run(PARENT, {"file": str(data)}, with_flows=(CHILD,))
    assert exe.state == "SUCCESS", runner.describe(exe)
    assert exe.inputs["file"].startswith("choreo://t/batches/")
    children = Execution.objects.filter(parent_execution=exe)
    assert sorted(c.outputs["count"] for c in children) == [1, 2, 2]
    merge = runner.taskrun(exe, "each_merge").outputs
    assert merge["numberOfBatches"] == 3 and merge["iterations"] == {"SUCCESS": 3}
    lines = storage().get(merge["subflowOutputs"]).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"count": 2}, {"count": 2}, {"count": 1}]
    assert runner.taskrun(exe, "each").outputs["numberOfBatches"] == 3
    assert runner.taskrun(exe, "total").outputs == {"value": "3"}


def test_a_failing_batch_fails_the_foreach_item_when_transmitted(runner: Runner, tmp_path: Path) -> None:
    child = """
        id: picky
        namespace: t
        inputs:
          - {id: rows, type: FILE}
        tasks:
          - id: check
            type: fail
            condition: "{{ 'bad' in read(inputs.rows) }}"
    """
    data = tmp_path / "rows.txt"
    data.write_text("ok\nbad\nok\n")
    exe = runner.run(PARENT.replace("count-rows", "picky").replace("rows: 2", "rows: 1"), {"file": str(data)},
                     with_flows=(child,))
    assert exe.state == "FAILED"
    assert runner.states(exe)["each"] == "FAILED"


def test_a_missing_local_file_is_a_clear_input_error(runner: Runner) -> None:
    from orchestrator.engine.dsl import InputError

    deployed = runner.deploy(PARENT)
    try:
        services.create_execution(deployed.flow.namespace, deployed.flow.flow_id, {"file": "/nope/missing.csv"})
    except InputError as exc:
        assert exc.messages == ["Invalid input 'file': no file at /nope/missing.csv"]
    else:
        raise AssertionError("expected an InputError")


def test_purge_removes_the_execution_and_its_stored_files(runner: Runner, tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("a\nb\n")
    exe = runner.run(PARENT, {"file": str(data)}, with_flows=(CHILD,))
    uri = exe.inputs["file"]
    assert storage().get(uri) == b"a\nb\n"
    removed = services.purge(str(exe.id))
    assert removed >= 2  # the input and the batch files at least
    assert not Execution.objects.filter(id=exe.id).exists()
    assert not Execution.objects.filter(parent_execution_id=exe.id).exists()
    try:
        storage().get(uri)
    except StorageError:
        pass
    else:
        raise AssertionError("the stored input should be gone")
