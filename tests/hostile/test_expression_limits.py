"""No expression can freeze or exhaust the process: jq runs bounded in helper processes,
and size caps hold as values are produced."""
from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterator

import pytest

from orchestrator.engine.dsl import parse_flow
from orchestrator.engine.expressions import ExpressionError, jqpool, limits, render, render_typed


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[jqpool.JqPool]:
    """A pool of its own, with limits a test can wait for."""
    monkeypatch.setattr(jqpool, "JQ_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(jqpool, "JQ_MEMORY_BYTES", 256 * 1024 * 1024)
    fresh = jqpool.JqPool(size=2)
    monkeypatch.setattr(jqpool, "_pool", fresh)
    yield fresh


def _failure(template: str) -> str:
    with pytest.raises(ExpressionError) as caught:
        render(template, {})
    return str(caught.value)


def test_a_jq_program_that_never_ends_fails_at_its_time_limit(pool: jqpool.JqPool) -> None:
    started = time.monotonic()
    message = _failure("{{ 1 | jq('def f: f; f') }}")
    assert "ran longer than 1 s and was stopped" in message
    assert time.monotonic() - started < 3
    assert render("{{ {'a': [1, 2]} | jq('.a[]') }}", {}) == "[1,2]"  # the pool goes on


def test_a_jq_program_that_takes_all_memory_fails_at_its_memory_limit(pool: jqpool.JqPool) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = _failure("{{ 1 | jq('[range(12000000)]') }}")
    assert "ran out of memory (the limit is 256 MiB)" in message or "ran longer than" in message
    # The engine's own process did not grow by the program's gigabyte.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024


def test_an_attempt_that_is_stopped_stops_its_jq_program(pool: jqpool.JqPool) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(limits.Interrupted), limits.interruptible(stop.is_set):
        render("{{ 1 | jq('def f: f; f') }}", {})
    assert time.monotonic() - started < 1.5  # stopped at 0.3 s; polled every 0.05 s


def test_jq_sees_nothing_of_the_servers_environment(pool: jqpool.JqPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    environment = render_typed("{{ 1 | jq('env') | first }}", {})
    assert set(environment) <= {"PATH", "LC_CTYPE"}  # LC_CTYPE: Python's own locale coercion
    assert "hunter2" not in render("{{ 1 | jq('$ENV') }}", {})
    assert os.environ["SECRET_TOKEN"] == "hunter2"


def test_jq_errors_read_as_jq_wrote_them(pool: jqpool.JqPool) -> None:
    assert "syntax error" in _failure("{{ 1 | jq('.[') }}")
    assert "boom" in _failure("{{ 1 | jq('error(\"boom\")') }}")


def test_a_constant_expression_is_not_evaluated_while_a_flow_is_validated(pool: jqpool.JqPool) -> None:
    # Jinja's optimizer would call the filter when it compiles a template of constants.
    started = time.monotonic()
    result = parse_flow("id: f\nnamespace: t\ntasks:\n  - id: a\n    type: log\n"
                        "    message: \"{{ 1 | jq('def f: f; f') }}\"\n", "f.yaml")
    assert time.monotonic() - started < 0.5
    assert result.errors == []


@pytest.mark.parametrize("template, limit", [
    ("{{ range(10) | join('a' * 10000000) }}", "more than the limit of 10000000"),
    ("{% set x = 2 ** 99999 %}{{ x * x }}", "the product would exceed 100000 bits"),
    ("{% set s = 'a' * 1000000 %}{% set l = [s, s, s, s, s, s, s, s, s, s, s] %}{{ l | toJson }}",
     "more than the limit of 10000000"),
    ("{% set s = 'a' * 1000000 %}{% set l = [s, s, s, s, s, s, s, s, s, s, s] %}{{ l }}",
     "more than the limit of 10000000"),
])
def test_size_caps_hold_before_the_value_is_built(template: str, limit: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert limit in _failure(template)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 150 * 1024  # KiB


def test_yaml_aliases_of_a_large_string_cannot_print_past_the_cap() -> None:
    big = "a" * 1_000_000
    shared = {"items": [big] * 100}  # 100 references, one string: YAML aliases build exactly this
    with pytest.raises(ExpressionError, match="more than the limit"):
        render("{{ value | toJson }}", {"value": shared})


def test_an_oversized_flow_is_refused_before_it_is_parsed() -> None:
    text = "id: big\nnamespace: t\ntasks: []\n" + "".join(f"k{i}: {i}\n" for i in range(700_000))
    assert len(text) > 10_000_000
    started = time.monotonic()
    result = parse_flow(text, "big.yaml")
    assert time.monotonic() - started < 0.5
    [error] = result.errors
    assert (error.line, error.column) == (1, 1)
    assert f"{len(text):,} characters, more than the 1,048,576 a flow may have" in error.message


def test_a_render_that_keeps_looping_stops_at_its_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by tests/hostile/test_fuzz.py: a million iterations (the loop cap) took 10 s.
    # A budget of 0.2 s here: the loop takes seconds on any machine, so the budget must end it.
    monkeypatch.setattr(limits, "MAX_RENDER_SECONDS", 0.2)
    started = time.monotonic()
    message = _failure("{% for x in range(999) %}{% for y in range(999) %}{{ (x ~ y) | upper }}{% endfor %}{% endfor %}")
    assert "ran longer than 0.2 s" in message
    assert time.monotonic() - started < 1.0


def test_time_spent_in_jq_does_not_count_against_the_render_budget(pool: jqpool.JqPool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_RENDER_SECONDS", 0.2)
    monkeypatch.setattr(jqpool, "JQ_TIMEOUT_SECONDS", 5.0)
    # A jq program that takes about half a second, longer than the whole render budget.
    assert render("{{ 1 | jq('[range(3000000)] | length') }}", {}) == "[3000000]"
