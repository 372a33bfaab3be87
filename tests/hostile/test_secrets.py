"""Secrets stay secret: every form of a secret is masked wherever it shows up again, and
its plain value is never written to the database."""
from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

from tests.cli import Cli

VALUE = "s3cr3t/v@lue+42"
FORMS = {
    "plain": VALUE,
    "json-escaped": json.dumps(VALUE)[1:-1],
    "base64": base64.b64encode(VALUE.encode()).decode(),
    "url-encoded": urllib.parse.quote(VALUE),
    "url-encoded, no slash kept": urllib.parse.quote(VALUE, safe=""),
}

LEAKY = """
id: leaky
namespace: hostile
outputs:
  - {id: passed_on, type: STRING, value: "{{ outputs.script.vars.v }}"}
tasks:
  - id: direct
    type: return
    format: "{{ secret('TOKEN') }}"
  - id: label
    type: io.kestra.plugin.core.execution.Labels
    labels:
      token: "{{ secret('TOKEN') }}"
  - id: script
    type: io.kestra.plugin.scripts.shell.Commands
    env: {T: "{{ secret('TOKEN') }}"}
    outputFiles: [t.txt]
    commands:
      - echo "plain $T"
      - printf '%s' "$T" > t.txt
      - echo "base64 $(printf '%s' "$T" | base64)"
      - echo "url $(python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["T"]))')"
      - echo '::{"outputs":{"v":"'"$T"'"}}::'
  - id: read_back
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles: {t.txt: "{{ outputs.script.outputFiles['t.txt'] }}"}
    commands: ["echo \\"read back $(cat t.txt)\\""]
  - id: derived
    type: log
    message: "from outputs {{ outputs.script.vars.v }}, from a file {{ read(outputs.script.outputFiles['t.txt']) }}"
  - id: boom
    type: fail
    allowFailure: true
    errorMessage: "failed with {{ secret('TOKEN') }}"
"""


def test_every_form_of_a_secret_is_masked_wherever_it_shows_up_and_never_stored(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.env["SECRET_TOKEN"] = base64.b64encode(VALUE.encode()).decode()
    ran = cli("flows", "run", cli.flow("leaky.yaml", LEAKY), "--json", "--logs")
    assert ran.returncode == 0, ran.stderr  # the last task fails, allowed: the execution ends WARNING
    shown = ran.stdout
    execution = json.loads(shown)
    messages = {line["taskId"]: [] for line in execution["logs"]}
    for line in execution["logs"]:
        messages[line["taskId"]].append(line["message"])
    assert messages["script"] == ["plain ********", "base64 ********", "url ********"]
    assert messages["read_back"] == ["read back ********"]
    assert messages["derived"] == ["from outputs ********, from a file ********"]
    assert execution["labels"]["token"] == "********"
    assert execution["outputs"] == {"passed_on": "********"}
    assert any("failed with ********" in m for m in messages["boom"])
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("cli.sqlite3*"))
    for name, form in FORMS.items():
        assert form not in shown, name
        assert form.encode() not in stored, name
