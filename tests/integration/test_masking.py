"""One mask, Kestra's ********, over values only: never over ids, task ids or keys."""
from __future__ import annotations

import base64

import pytest

from orchestrator.engine.secrets import MASK, mask_values
from tests.helpers import document as execution_document
from tests.helpers import Runner

# The secret's text is also the id of a task and the key of an output.
SPELLED_LIKE_A_TASK = """
id: masked
namespace: t
inputs:
  - {id: word, type: SECRET}
tasks:
  - id: greet
    type: return
    format: "say {{ inputs.word }}"
  - id: relay
    type: output_values
    values:
      greet: "{{ inputs.word }}!"
  - id: tell
    type: log
    message: "the task greet said: {{ outputs.greet.value }}"
outputs:
  - {id: greet, type: STRING, value: "{{ inputs.word }} again"}
"""


def test_the_mask_is_kestras_eight_stars() -> None:
    assert MASK == "********"


def test_a_secret_input_spelled_like_a_task_id_masks_values_but_no_id_or_key(runner: Runner) -> None:
    exe = runner.run(SPELLED_LIKE_A_TASK, {"word": "greet"})
    assert exe.state == "SUCCESS"
    document = execution_document(exe)
    assert document["inputs"] == {"word": "********"}
    assert [r["taskId"] for r in document["taskRuns"]] == ["greet", "relay", "tell"]
    greet, relay, _ = document["taskRuns"]
    assert greet["outputs"] == {"value": "say ********"}
    assert relay["outputs"] == {"values": {"greet": "********!"}}
    assert document["outputs"] == {"greet": "******** again"}
    assert [(line["taskId"], line["message"]) for line in document["logs"]] == [
        ("tell", "the task ******** said: say ********"),
    ]


def test_a_secret_function_value_spelled_like_a_task_id_masks_values_but_no_id_or_key(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_WORD", base64.b64encode(b"greet").decode())
    exe = runner.run("""
        id: masked-secret
        namespace: t
        tasks:
          - id: greet
            type: log
            message: "{{ secret('WORD') }} from greet"
          - id: relay
            type: output_values
            values:
              greet: "{{ secret('WORD') }}"
    """)
    assert exe.state == "SUCCESS"
    document = execution_document(exe)
    assert [r["taskId"] for r in document["taskRuns"]] == ["greet", "relay"]
    assert document["taskRuns"][1]["outputs"] == {"values": {"greet": "********"}}
    assert [(line["taskId"], line["message"]) for line in document["logs"]] == [
        ("greet", "******** from ********"),
    ]


def test_masking_a_structure_keeps_every_key() -> None:
    value = {"greet": ["greet", {"greet": "hello greet"}], "n": 1}
    assert mask_values(value, ["greet"]) == {"greet": ["********", {"greet": "hello ********"}], "n": 1}
    assert mask_values(value, []) is value
