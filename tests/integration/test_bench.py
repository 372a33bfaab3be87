"""``bench``: it measures the database it is given, in throwaway databases it always drops,
and reports every metric with its keys within its time budgets."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from orchestrator.cli.benchmark import runner
from orchestrator.cli.benchmark.databases import DatabaseError, Target, throwaways
from orchestrator.cli.benchmark.metrics import METRICS, REPORT_RESERVE_S, Loop

ROOT = Path(__file__).resolve().parents[2]

KEYS = {
    "M1": {"p50_ms", "p99_ms", "runs", "method"},
    "M2": {"per_task_ms", "per_task_p99_ms", "sequential_40_ms", "parallel_40_ms", "parallel_40_p99_ms", "runs",
           "method"},
    "M2b": {"per_task_above_spawn_ms", "per_task_ms", "per_task_p99_ms", "spawn_ms", "runs", "method"},
    "M3": {"executions_per_s", "executions", "method"},
    "M9": {"per_iteration_ms_200", "per_iteration_ms_2000", "runs", "method"},
    "MEM": {"peak_rss_mb", "by_metric", "method"},
}


@pytest.fixture
def postgres() -> str:
    """A PostgreSQL server's URL; the test is skipped when none answers, unless CI requires one."""
    url = os.environ.get("CHOREO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CHOREO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"CHOREO_REQUIRE_POSTGRES=1 but no PostgreSQL answers at {url}: {exc}")
        pytest.skip(f"no PostgreSQL answers at {url}")
    return url


def _databases(url: str, prefix: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]).fetchall()
    return [r[0] for r in rows]


def _bench_env(tmp: Path) -> dict[str, str]:
    # The database the user works with: bench must leave it alone.
    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'mine.sqlite3'}", "CHOREO_DATA_DIR": str(tmp / "data")}


def _bench(tmp: Path, *args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "bench", *args], cwd=ROOT, env=_bench_env(tmp),
                          capture_output=True, text=True, timeout=timeout)


def _prefix(stderr: str) -> str:
    found = re.search(r"throwaway databases (choreo_bench_[0-9a-f]+_)\*", stderr)
    assert found, stderr
    return found.group(1)


def test_bench_json_reports_every_metric_with_its_keys_measured_on_throwaway_sqlite(tmp_path: Path) -> None:
    proc = _bench(tmp_path, "--quick", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc) == ["database", "M1", "M2", "M2b", "M3", "M9", "MEM"]
    assert doc["database"] == "sqlite"
    for metric, keys in KEYS.items():
        assert keys <= set(doc[metric]), (metric, doc[metric])
    assert doc["M1"]["runs"] == 5 and 0 < doc["M1"]["p50_ms"] <= doc["M1"]["p99_ms"]
    assert doc["M3"]["executions"] == 50 and doc["M3"]["executions_per_s"] > 0
    assert set(doc["MEM"]["by_metric"]) == {"M1", "M2", "M2b", "M3", "M9"}
    # --quick cuts M9 at 15 s: a loop that did not finish by then says what it did instead
    # of a figure.
    m9 = doc["M9"]
    if m9["per_iteration_ms_200"] is None:
        assert m9["partial_200"]["iterations_done"] < 200 and "skipped_2000" in m9, m9
    else:
        assert m9["per_iteration_ms_200"] > 0
        if m9["per_iteration_ms_2000"] is None:
            assert 0 <= m9["partial_2000"]["iterations_done"] < 2000, m9
        else:
            assert m9["per_iteration_ms_2000"] > 0 and "partial_2000" not in m9, m9
    assert not (tmp_path / "mine.sqlite3").exists()


def test_bench_database_postgres_measures_throwaway_databases_on_that_server_and_drops_them(
    tmp_path: Path, postgres: str
) -> None:
    proc = _bench(tmp_path, "--database", postgres, "--metrics", "M1", "--runs", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # "postgresql" is what the measuring process's connection reported; the runner also
    # checked that it was connected to the throwaway database made for it.
    assert doc["database"] == "postgresql"
    assert KEYS["M1"] <= set(doc["M1"]) and doc["M1"]["runs"] == 5
    assert set(doc["MEM"]["by_metric"]) == {"M1"}
    assert _databases(postgres, _prefix(proc.stderr)) == []
    assert not (tmp_path / "mine.sqlite3").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_bench_drops_its_throwaway_database(tmp_path: Path, postgres: str, signum: int) -> None:
    proc = subprocess.Popen([sys.executable, "manage.py", "bench", "--database", postgres, "--metrics", "M9"],
                            cwd=ROOT, env=_bench_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        prefix = _prefix(proc.stderr.readline())
        deadline = time.monotonic() + 30
        while _databases(postgres, prefix) != [f"{prefix}m9"]:
            assert time.monotonic() < deadline, "the M9 database never appeared"
            time.sleep(0.05)
        time.sleep(1)  # its process is measuring by now
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _databases(postgres, prefix) == []


def test_throwaway_postgres_databases_are_dropped_when_the_benchmark_fails(tmp_path: Path, postgres: str) -> None:
    with pytest.raises(RuntimeError), throwaways(Target.parse(postgres), tmp_path) as dbs:
        dbs.create("a")
        dbs.create("b")
        assert len(_databases(postgres, dbs.prefix)) == 2
        raise RuntimeError("a metric crashed")
    assert _databases(postgres, dbs.prefix) == []


def test_throwaway_sqlite_files_are_removed_when_the_benchmark_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), throwaways(Target.parse(None), tmp_path) as dbs:
        for label in ("a", "b"):
            path = dbs.create(label).connects_to
            Path(path).touch()
            Path(f"{path}-wal").touch()
        raise RuntimeError("a metric crashed")
    assert list(tmp_path.iterdir()) == []


def test_bench_refuses_a_database_it_cannot_measure() -> None:
    for url in ("mysql://u@h/db", "sqlite://"):
        with pytest.raises(DatabaseError):
            Target.parse(url)
    assert Target.parse(None) == Target("sqlite", "")
    assert Target.parse("postgresql://u@h:5433/db").vendor == "postgresql"


def test_a_loop_cut_at_its_deadline_reports_the_iterations_done_and_no_full_figure() -> None:
    assert Loop(200, 200, 2.4).figures() == {"per_iteration_ms_200": 12.0}
    assert Loop(2000, 412, 82.4, cut_after_s=90.04).figures() == {
        "per_iteration_ms_2000": None,
        "partial_2000": {"iterations_done": 412, "of": 2000, "per_iteration_ms_over_done": 200.0,
                         "cut_after_s": 90.0},
    }
    assert Loop(2000, 0, None, cut_after_s=90).figures()["partial_2000"]["per_iteration_ms_over_done"] is None


def test_the_metric_budgets_keep_bench_within_five_minutes() -> None:
    planned = sum(m.budget_s + runner.SETUP_ALLOWANCE_S for m in METRICS)
    assert planned <= runner.TOTAL_BUDGET_S < 300, "give the new metric a budget that fits, or shrink others"
    assert all(m.budget_s >= runner.MIN_BUDGET_S + REPORT_RESERVE_S for m in METRICS)
