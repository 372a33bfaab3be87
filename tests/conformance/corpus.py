"""The shared Kestra conformance corpus: loading cases and checking an execution document.

The document is the CLI's ``--json --logs`` shape, so the same checks serve the
in-process run and the command-line run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings


def corpus_dir() -> Path:
    path = Path(settings.CHOREO_SHARED_DIR) / "conformance" / "kestra"
    if not (path / "cases.yaml").is_file():
        raise RuntimeError(
            f"The conformance corpus is missing: no cases.yaml under {path}. "
            "Set CHOREO_SHARED_DIR to the shared folder (default ../shared)."
        )
    return path


def load_cases() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((corpus_dir() / "cases.yaml").read_text())
    return data


def _first(doc: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    return next((r for r in doc["taskRuns"] if r["taskId"] == task_id), None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def check(doc: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """What differs between the execution document and the expectations (empty: all good)."""
    problems: list[str] = []
    if "state" in expect and doc["state"] != expect["state"]:
        problems.append(f"state {doc['state']} != {expect['state']}")
    if "taskRuns" in expect and len(doc["taskRuns"]) != expect["taskRuns"]:
        problems.append(f"taskRuns {len(doc['taskRuns'])} != {expect['taskRuns']}: "
                        f"{[(r['taskId'], r['state']) for r in doc['taskRuns']]}")
    for task_id, state in (expect.get("taskStates") or {}).items():
        run = _first(doc, task_id)
        if run is None or run["state"] != state:
            problems.append(f"task {task_id}: {run and run['state']} != {state}")
    for task_id in expect.get("absent") or []:
        if _first(doc, task_id) is not None:
            problems.append(f"task {task_id} should have no task run")
    for task_id, count in (expect.get("attempts") or {}).items():
        run = _first(doc, task_id)
        if run is None or len(run["attempts"]) != count:
            problems.append(f"task {task_id}: {run and len(run['attempts'])} attempts != {count}")
    for key, value in (expect.get("outputs") or {}).items():
        if doc["outputs"].get(key) != value:
            problems.append(f"output {key}: {doc['outputs'].get(key)!r} != {value!r}")
    for task_id, wanted in (expect.get("taskOutputs") or {}).items():
        run = _first(doc, task_id)
        for key, fragment in wanted.items():
            actual = None if run is None else run["outputs"].get(key)
            if actual is None or fragment not in _text(actual):
                problems.append(f"task {task_id} output {key}: {actual!r} lacks {fragment!r}")
    if "logContains" in expect:
        if not any(expect["logContains"] in line["message"] for line in doc.get("logs", [])):
            problems.append(f"no log line contains {expect['logContains']!r}")
    return problems
