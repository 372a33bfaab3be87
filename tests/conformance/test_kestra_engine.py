"""Every case of the shared corpus, run through the engine's services in this process."""
from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine import services
from orchestrator.engine.dsl import parse_flow
from tests.helpers import document
from tests.conformance.corpus import check, corpus_dir, load_cases
from tests.helpers import Runner, settled, terminal

CASES = load_cases()


@pytest.mark.parametrize("case", CASES["valid"], ids=[c["name"] for c in CASES["valid"]])
def test_valid_case(case: dict[str, Any], runner: Runner) -> None:
    base = corpus_dir()
    for extra in case.get("with") or []:
        services.deploy((base / extra).read_text(), extra)
    deployed = services.deploy((base / case["flow"]).read_text(), case["flow"])
    exe = services.create_execution(deployed.flow.namespace, deployed.flow.flow_id, case.get("inputs") or {})
    exe = runner.wait(exe, settled, timeout=60)
    assert check(document(exe), case["expect"]) == []
    for step in case.get("then") or []:
        if "resume" in step:
            services.resume(str(exe.id), step["resume"] or {})
            exe = runner.wait(exe, lambda e: settled(e) and not _busy(e), timeout=60)
        elif "restart" in step:
            services.restart(str(exe.id))
            exe = runner.wait(exe, lambda e: e.state != "RESTARTED" and settled(e), timeout=60)
        else:
            exe = runner.wait(exe, terminal, timeout=60)
        assert check(document(exe), step["expect"]) == [], step


def _busy(exe: Any) -> bool:
    from flows.models import TaskRun

    return TaskRun.objects.filter(
        execution_id=exe.id, state__in=["CREATED", "QUEUED", "RUNNING", "RETRYING", "RESTARTED"]
    ).exists()


@pytest.mark.parametrize("case", CASES["invalid"], ids=[c["invalid"] for c in CASES["invalid"]])
def test_invalid_case(case: dict[str, Any]) -> None:
    path = corpus_dir() / case["invalid"]
    result = parse_flow(path.read_text(), case["invalid"])
    assert result.flow is None
    messages = [e.message for e in result.errors]
    assert any(case["error"] in m for m in messages), messages
    assert all(e.line >= 1 and e.column >= 1 for e in result.errors)
