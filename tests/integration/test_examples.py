"""The example flows that need no outside network run, with the outputs they promise."""
from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.helpers import Runner

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "flows" / "examples"


def _example(name: str) -> str:
    return (EXAMPLES / name).read_text()


def test_the_etl_example_downloads_cleans_aggregates_and_summarises(runner: Runner, httpserver: HTTPServer) -> None:
    csv = (ROOT / "static" / "examples" / "orders.csv").read_bytes()
    httpserver.expect_request("/orders.csv").respond_with_data(csv, content_type="text/csv")
    exe = runner.run(_example("etl-orders.yaml"), {"url": httpserver.url_for("/orders.csv")}, timeout=60)
    assert exe.state == "SUCCESS", runner.describe(exe)
    assert runner.taskrun(exe, "transform").outputs["vars"] == {"kept": 6, "dropped": 2}
    assert exe.outputs["revenue_by_country"] == [
        {"country": "US", "orders": 1, "revenue": 310.25},
        {"country": "JP", "orders": 1, "revenue": 230.0},
        {"country": "FR", "orders": 2, "revenue": 184.6},
        {"country": "DE", "orders": 2, "revenue": 99.99},
    ]
    messages = runner.messages(exe)
    assert "kept 6 of 8 orders" in messages
    assert "6 orders kept, 2 cancelled; top country US with 310.25" in messages


def test_the_shell_example_keeps_its_files_and_reads_one_back(runner: Runner) -> None:
    exe = runner.run(_example("shell-files.yaml"), timeout=60)
    assert exe.state == "SUCCESS", runner.describe(exe)
    files = runner.taskrun(exe, "report").outputs["outputFiles"]
    assert sorted(files) == ["report.txt", "system.txt"]
    assert any(m.startswith("2 files; report says: generated on ") for m in runner.messages(exe))


def test_every_other_example_without_network_succeeds_or_pauses(runner: Runner) -> None:
    runner.deploy(_example("hello.yaml"))  # pipeline-dag calls it
    expected = {"hello.yaml": "SUCCESS", "fan-out.yaml": "SUCCESS", "retries-and-errors.yaml": "WARNING",
                "pipeline-dag.yaml": "SUCCESS", "approval.yaml": "PAUSED"}
    for name, state in expected.items():
        exe = runner.run(_example(name), timeout=60)
        assert exe.state == state, (name, runner.describe(exe))
