"""Fuzzing with hostile building blocks, within a bounded budget: expressions made of big
numbers, long strings, loops and the filters that build values must end quickly with text
or an ExpressionError; flows made of mutated real flows must validate quickly, with every
problem at a line and column, and never raise."""
from __future__ import annotations

import os
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.engine.dsl import ParseResult, parse_flow
from orchestrator.engine.expressions import ExpressionError, render
from orchestrator.engine.expressions.limits import MAX_OUTPUT, MAX_RENDER_SECONDS
from tests.helpers import FIXTURES

# Each expression must be decided in this time, whatever it asks for: its budget
# (MAX_RENDER_SECONDS) and a margin for a loaded machine.
EXPRESSION_SECONDS = MAX_RENDER_SECONDS + 1.5
FLOW_SECONDS = 2.0

_atoms = st.sampled_from([
    "1", "-1", "0", "2", "99999", "2 ** 99999", "10 ** 4000", "1.5e308", "'a'", "'a' * 1000000", "'ab' * 5000000",
    "[1, 2, 3]", "range(100000)", "range(10)", "inputs.big", "inputs.list", "inputs.map", "none", "true", "'{{ x }}'",
])
_unary = st.sampled_from([
    "{} | length", "{} | join('x' * 1000000)", "{} | join", "{} | toJson", "{} | upper", "{} | string",
    "({}) * ({})", "({}) ** 3", "({}) + ({})", "({}) ~ ({})", "[{}, {}, {}, {}]", "{'k': {}}",
    "{} | replace('a', 'bbbbbbbbbb')", "{} | first", "{} | default('d')", "({}) ?? 'x'", "{} | indent(100)",
    "{} | slice(1)", "{} | abs", "{} | title", "{} | split('a')",
])


def _expression(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return _atoms
    inner = _expression(depth - 1)
    # Each {} of the shape takes an inner expression (the first and the others).
    return st.one_of(inner, st.tuples(_unary, inner, inner).map(
        lambda t: t[0].replace("{}", t[1], 1).replace("{}", t[2])))


_templates = st.one_of(
    _expression(3).map(lambda e: f"{{{{ {e} }}}}"),
    st.tuples(_expression(2), _expression(2)).map(
        lambda t: f"{{% for x in {t[0]} %}}{{% for y in {t[0]} %}}{{{{ {t[1]} }}}}{{% endfor %}}{{% endfor %}}"),
    st.tuples(_expression(2), _expression(2)).map(lambda t: f"{{% set v = {t[0]} %}}{{{{ v ~ ({t[1]}) }}}}"),
)
_CONTEXT = {"inputs": {"big": "x" * 1_000_000, "list": list(range(1000)), "map": {str(i): i for i in range(1000)}}}


@settings(deadline=None, max_examples=int(os.environ.get("CHOREO_FUZZ_EXPRESSIONS", "250")),
          suppress_health_check=[HealthCheck.too_slow])
@given(_templates)
def test_hostile_expressions_end_quickly_with_text_or_an_expression_error(template: str) -> None:
    started = time.monotonic()
    try:
        text = render(template, _CONTEXT)
    except ExpressionError:
        pass
    else:
        assert len(text) <= MAX_OUTPUT
    assert time.monotonic() - started < EXPRESSION_SECONDS, template


def _fixture_flows() -> list[object]:
    flows = []
    for path in sorted((FIXTURES / "valid").glob("*.yaml")):
        try:
            flows.append(yaml.safe_load(path.read_text()))
        except yaml.YAMLError:
            continue
    return [f for f in flows if isinstance(f, dict)]


# Written into the YAML text as is (PyYAML will not write an integer of 5,000 digits).
_RAW = {"__big_integer__": "1" + "0" * 5000, "__alias__": "*nowhere", "__tag__": "!!python/object:os.system x"}
_hostile_values = st.sampled_from([
    *_RAW, -(10 ** 40), 2 ** 63, 1e308, float("inf"), "PT99999999999999999999S", "P999999999D", "PT" + "9" * 5000,
    "x" * 100_000, "{{ 1 | jq('def f: f; f') }}", "{{ 'a' * 10000000 }}", None, [], {}, [[[[[]]]]], "\x00\ufffe",
    "${{ }}", "!!python/object:os.system", "<<", "*a", "&a", "---", "\t", True, "-1", "P-1D",
])


@st.composite
def _mutated_flows(draw: st.DrawFn) -> str:
    flow = draw(st.sampled_from(_FLOWS))
    document = yaml.safe_load(yaml.safe_dump(flow))
    for _ in range(draw(st.integers(1, 4))):
        target = document
        # Walk down to a random mapping or list, then put a hostile value there.
        for _ in range(draw(st.integers(0, 4))):
            children = list(target.values()) if isinstance(target, dict) else target if isinstance(target, list) else []
            containers = [c for c in children if isinstance(c, (dict, list)) and c]
            if not containers:
                break
            target = draw(st.sampled_from(containers))
        value = draw(_hostile_values)
        if isinstance(target, dict) and target:
            target[draw(st.sampled_from(sorted(map(str, target))))] = value
        elif isinstance(target, list) and target:
            target[draw(st.integers(0, len(target) - 1))] = value
    text = yaml.safe_dump(document, allow_unicode=True)
    for marker, raw in _RAW.items():
        text = text.replace(marker, raw)
    return text


_FLOWS = _fixture_flows()


@settings(deadline=None, max_examples=int(os.environ.get("CHOREO_FUZZ_FLOWS", "150")),
          suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_flows())
def test_mutated_flows_validate_quickly_with_every_problem_at_a_line_and_column(text: str) -> None:
    started = time.monotonic()
    result = parse_flow(text, "fuzz.yaml")
    assert time.monotonic() - started < FLOW_SECONDS
    assert isinstance(result, ParseResult)
    assert (result.flow is None) == bool(result.errors)
    for error in result.errors:
        assert error.line >= 1 and error.column >= 1 and error.message


def test_the_fuzzed_flows_come_from_real_fixtures() -> None:
    assert len(_FLOWS) >= 10
    assert Path(FIXTURES / "valid").is_dir()
