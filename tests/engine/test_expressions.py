"""The expression language: Kestra's Pebble templates rendered by a sandboxed Jinja."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined

from orchestrator.engine.expressions import (
    ExpressionError,
    is_truthy,
    render,
    render_typed,
    render_value,
    to_display,
)

CONTEXT: dict[str, Any] = {
    "inputs": {"name": "world", "count": 3, "flag": "false", "items": ["a", "b"], "map": {"k": "v", "n": 2}},
    "outputs": {
        "return": {"value": "flow-with-outputs"},
        "t2": {"value": "42", "nothing": None, "list": [1, 2, 3], "json": '{"a": [1, 2]}'},
        "error-t1": {"value": "dashed"},
    },
    "vars": {"greeting": "{{ inputs.name }}", "nested": "{{ render(vars.greeting) }}!", "self": "{{ render(vars.self) }}"},
    "execution": {"id": "exec-1", "startDate": dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=dt.UTC)},
    "flow": {"id": "hello", "namespace": "company.team", "revision": 1},
    "task": {"id": "t1", "type": "io.kestra.plugin.core.log.Log"},
    "taskrun": {"id": "tr-1", "value": "v1", "attemptsCount": 1},
}


def r(template: str, **extra: Any) -> str:
    return render(template, {**CONTEXT, **extra})


def error_of(template: str, **extra: Any) -> str:
    with pytest.raises(ExpressionError) as caught:
        render(template, {**CONTEXT, **extra})
    return str(caught.value)


# --- rendering values ---------------------------------------------------------------------
def test_it_renders_a_map_as_compact_json() -> None:
    assert r("{{ outputs.return }}") == '{"value":"flow-with-outputs"}'


def test_it_renders_a_list_and_a_literal_map_as_compact_json() -> None:
    assert r("{{ outputs.t2.list }}") == "[1,2,3]"
    assert r("{{ {'a': 1, 'b': [true, null, 'é']} }}") == '{"a":1,"b":[true,null,"é"]}'


def test_it_renders_booleans_as_true_and_false() -> None:
    assert r("{{ true }} {{ false }} {{ 1 == 1 }}") == "true false true"


def test_it_renders_null_as_an_empty_string() -> None:
    assert r("[{{ outputs.t2.nothing }}]") == "[]"


def test_it_renders_datetimes_as_iso_utc_with_milliseconds() -> None:
    assert r("{{ execution.startDate }}") == "2024-01-02T03:04:05.123Z"
    assert to_display(dt.date(2024, 1, 2)) == "2024-01-02"


def test_it_renders_floats_like_java() -> None:
    assert to_display(1.0) == "1.0"
    assert to_display(1e16) == "10000000000000000.0"
    assert to_display(0.5) == "0.5"
    assert to_display(Decimal("1.50")) == "1.50"


def test_it_renders_a_plain_string_unchanged() -> None:
    assert render("no expression here: {# } %}", {}) == "no expression here: {# } %}"


def test_it_renders_task_and_taskrun_fields() -> None:
    assert r("{{ task.id }} > {{ taskrun.value }}") == "t1 > v1"


def test_it_reads_dashed_keys_with_brackets() -> None:
    assert r("{{ outputs['error-t1'].value }}") == "dashed"


def test_it_prefers_a_map_key_over_a_dict_method() -> None:
    assert r("{{ m.items }} {{ m.keys }}", m={"items": 1, "keys": 2}) == "1 2"


def test_it_keeps_a_trailing_newline() -> None:
    assert r("{{ task.id }}\n") == "t1\n"


def test_it_ignores_comments() -> None:
    assert r("a{# {{ not rendered }} #}b{{ 1 }}") == "ab1"


def test_it_reads_closing_braces_inside_a_string_literal() -> None:
    assert r("{{ '}}' ~ \"%}\" }}") == "}}%}"


def test_it_copies_raw_and_verbatim_blocks_untouched() -> None:
    assert r("{% raw %}{{ a ?? b }}{% endraw %}") == "{{ a ?? b }}"
    assert r("{% verbatim %}{{ x }}{% endverbatim %}") == "{{ x }}"


# --- undefined ----------------------------------------------------------------------------
def test_it_names_the_missing_path_in_the_error() -> None:
    assert error_of("{{ inputs.invalid }}") == "Unable to render '{{ inputs.invalid }}': variable 'inputs.invalid' is undefined"


def test_it_names_the_full_path_below_a_missing_key() -> None:
    assert "variable 'outputs.t.value' is undefined" in error_of("{{ outputs.t.value }}")
    assert "variable 'outputs['error-t2'].value' is undefined" in error_of("{{ outputs['error-t2'].value }}")


def test_it_names_a_missing_root_variable() -> None:
    assert "variable 'nope' is undefined" in error_of("{{ nope }}")


@pytest.mark.parametrize(
    "template",
    [
        "{{ outputs.t.value == 1 }}",
        "{{ outputs.t.value + 1 }}",
        "{% for x in outputs.t.value %}{% endfor %}",
        "{% if outputs.t.value %}{% endif %}",
        "{{ outputs.t.value ? 1 : 2 }}",
        "{{ outputs.t.value | upper }}",
        "{{ [outputs.t.value] }}",
    ],
)
def test_it_raises_when_an_undefined_value_is_used(template: str) -> None:
    assert "'outputs.t.value' is undefined" in error_of(template)


def test_it_lets_defined_and_null_tests_inspect_an_undefined_value() -> None:
    assert r("{{ outputs.t.value is defined }} {{ outputs.t.value is not defined }}") == "false true"
    assert r("{{ outputs.t.value is null }} {{ outputs.t2.nothing is null }}") == "true true"


def test_it_defaults_an_undefined_null_or_empty_value() -> None:
    assert r("{{ outputs.t.value | default('d') }}") == "d"
    assert r("{{ outputs.t2.nothing | default('d') }}") == "d"
    assert r("{{ '  ' | default('d') }}") == "d"
    assert r("{{ outputs.t2.value | default('d') }}") == "42"


# --- Pebble operators ---------------------------------------------------------------------
def test_it_coalesces_a_missing_nested_key_with_double_question_mark() -> None:
    assert r("{{ outputs.t.value.deeper ?? 'fallback' }}") == "fallback"
    assert r("{{ outputs['missing-task'].value ?? 'fallback' }}") == "fallback"


def test_it_coalesces_null_with_double_question_mark() -> None:
    assert r("{{ outputs.t2.nothing ?? 'fallback' }}") == "fallback"
    assert r("{{ outputs.t2.value ?? 'fallback' }}") == "42"


def test_it_chains_double_question_marks_left_to_right() -> None:
    assert r("{{ a ?? b ?? 'c' }}") == "c"
    assert r("{{ a ?? outputs.t2.value ?? 'c' }}") == "42"


def test_it_evaluates_the_right_of_double_question_mark_lazily() -> None:
    assert r("{{ outputs.t2.value ?? missing.thing }}") == "42"
    assert "'missing.thing' is undefined" in error_of("{{ nope ?? missing.thing }}")


def test_it_keeps_null_with_triple_question_mark() -> None:
    assert r("[{{ outputs.t2.nothing ??? 'fallback' }}]") == "[]"
    assert r("{{ outputs.t.value ??? 'fallback' }}") == "fallback"


def test_it_renders_the_taken_ternary_branch_only() -> None:
    assert r("{{ taskrun.attemptsCount == 1 ? 'ok' : ko }}") == "ok"
    assert "Unable to render '{{ taskrun.attemptsCount == 2 ? 'ok' : ko }}': variable 'ko' is undefined" == error_of(
        "{{ taskrun.attemptsCount == 2 ? 'ok' : ko }}"
    )


def test_it_nests_ternaries() -> None:
    assert r("{{ false ? 1 : true ? 2 : 3 }}") == "2"
    assert r("{{ true ? (false ? 1 : 2) : 3 }}") == "2"


def test_it_does_not_confuse_ternary_marks_with_strings_maps_or_slices() -> None:
    assert r("{{ true ? 'a?b:c' : 'd' }}") == "a?b:c"
    assert r("{{ {'a': 1, 'b': true ? 2 : 3} }}") == '{"a":1,"b":2}'
    assert r("{{ outputs.t2.list[1:] }} {{ outputs.t2.list[true ? 0 : 1] }}") == "[2,3] 1"


def test_it_reads_equals_as_equality() -> None:
    assert r("{{ inputs.count equals 3 }} {{ inputs.name equals 'x' }}") == "true false"


def test_it_combines_not_and_or_with_kestra_truthiness() -> None:
    assert r("{{ not inputs.flag }} {{ inputs.flag or inputs.count }} {{ true and 0 }}") == "true true false"


def test_it_concatenates_before_filtering_like_pebble() -> None:
    assert r("{{ 'a' ~ inputs.name | upper }}") == "AWORLD"
    assert r("{{ 'n=' ~ inputs.count }}") == "n=3"


def test_it_checks_containment_with_contains_and_in() -> None:
    assert r("{{ outputs.t2.list contains 2 }} {{ 'world' contains 'or' }} {{ inputs.map contains 'k' }}") == "true true true"
    assert r("{{ 2 in outputs.t2.list }} {{ 5 not in outputs.t2.list }}") == "true true"


def test_it_builds_inclusive_ranges() -> None:
    assert r("{{ 1..3 }} {{ range(0, 2) }}") == "[1,2,3] [0,1,2]"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ '' is empty }}", "true"),
        ("{{ [] is empty }}", "true"),
        ("{{ 'x' is empty }}", "false"),
        ("{{ outputs.t2.json is json }}", "true"),
        ("{{ 'not json' is json }}", "false"),
        ("{{ outputs.t2.list is iterable }}", "true"),
        ("{{ 'text' is iterable }}", "false"),
        ("{{ inputs.map is map }}", "true"),
        ("{{ 3 is odd }} {{ 3 is even }}", "true false"),
        ("{{ 9 is divisibleby 3 }}", "true"),
    ],
)
def test_it_supports_pebble_tests(template: str, expected: str) -> None:
    assert r(template) == expected


# --- statements ---------------------------------------------------------------------------
def test_it_runs_if_elseif_else_with_kestra_truthiness() -> None:
    template = "{% if inputs.flag %}flag{% elseif inputs.count == 3 %}three{% else %}other{% endif %}"
    assert r(template) == "three"


def test_it_loops_with_zero_based_pebble_indexes() -> None:
    assert r("{% for x in inputs.items %}{{ loop.index }}{{ x }}{% if loop.last %}.{% endif %}{% endfor %}") == "0a1b."


def test_it_loops_over_map_entries() -> None:
    assert r("{% for e in inputs.map %}{{ e.key }}={{ e.value }};{% endfor %}") == "k=v;n=2;"
    assert r("{% for k, v in inputs.map.items() %}{{ k }}{{ v }}{% endfor %}") == "kvn2"


def test_it_renders_the_else_of_an_empty_loop() -> None:
    assert r("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty"


def test_it_sets_variables() -> None:
    assert r("{% set total = inputs.count * 2 %}{{ total }}") == "6"


# --- filters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.map | json }}", '{"k":"v","n":2}'),
        ("{{ inputs.map | toJson }}", '{"k":"v","n":2}'),
        ("{{ 'a' | toJson }}", '"a"'),
        ("{{ (outputs.t2.json | fromJson).a[1] }}", "2"),
        ("{{ fromJson(outputs.t2.json).a }}", "[1,2]"),
        ("{{ json('[1]')[0] }}", "1"),
        ("{{ outputs.t2.list | first }} {{ outputs.t2.list | last }} {{ outputs.t2.list | length }}", "1 3 3"),
        ("{{ 'hello' | upper }} {{ 'HeLLo' | lower }}", "HELLO hello"),
        ("{{ 'hELLO wORLD' | capitalize }} {{ 'hello wORLD' | title }}", "HELLO wORLD Hello WORLD"),
        ("[{{ '  x ' | trim }}]", "[x]"),
        ("{{ 'this is a long sentence.' | abbreviate(7) }}", "this..."),
        ("{{ 'a-b' | replace({'a': 'x', 'b': 'y'}) }} {{ 'a-b' | replace('-', '+') }}", "x-y a+b"),
        ("{{ 'a,b,c' | split(',') }}", '["a","b","c"]'),
        ("{{ inputs.items | join(', ') }}", "a, b"),
        ("{{ inputs.map | keys }} {{ inputs.map | values }}", '["k","n"] ["v",2]'),
        ("{{ [3, 1, 2] | sort }} {{ [1, 2] | reverse }} {{ 'ab' | reverse }}", "[1,2,3] [2,1] ba"),
        ("{{ [1, 2, 3, 4] | slice(1, 3) }} {{ 'hello' | slice(1, 3) }}", "[2,3] el"),
        ("{{ 'hello' | startsWith('he') }} {{ 'hello' | endsWith('x') }}", "true false"),
        ("{{ 'a.b.c' | substringBefore('.') }} {{ 'a.b.c' | substringAfterLast('.') }}", "a c"),
        ("{{ \"it's\" | escapeChar('single') }} {{ \"it's\" | escapeChar('shell') }}", "it\\'s it'\\''s"),
        ("{{ '12' | number + 1 }} {{ '1.5' | number }}", "13 1.5"),
        ("{{ 'hello world' | urlencode }}", "hello+world"),
        ("{{ 'hello' | base64encode }} {{ 'aGVsbG8=' | base64decode }}", "aGVsbG8= hello"),
        ("{{ 'hello' | md5 }}", "5d41402abc4b2a76b9719d911017c592"),
        ("{{ 'hello' | sha256 }}", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        ("{{ 'Hello, Wörld!' | slugify }}", "hello-world"),
        ("{{ [1, 2, 3, 4, 5] | chunk(2) }} {{ [[1], [2, 3]] | flatten }}", "[[1,2],[3,4],[5]] [1,2,3]"),
        ("{{ max(1, 5, 3) }} {{ min([4, 2]) }}", "5 2"),
    ],
)
def test_it_supports_kestra_filters_and_functions(template: str, expected: str) -> None:
    assert r(template) == expected


def test_it_returns_every_jq_result_as_a_list() -> None:
    assert r("{{ outputs.t2.json | jq('.a[]') }}") == "[1,2]"
    assert r("{{ inputs.map | jq('.k') | first }}") == "v"
    assert render_typed("{{ outputs.t2.list | jq('map(. * 2)') }}", CONTEXT) == [[2, 4, 6]]


def test_it_keeps_jinja_filters_that_are_safe() -> None:
    assert r("{{ [1, 2, 3] | sum }} {{ 'abc' | truncate(3, True, '') }} {{ [1, 1, 2] | unique | list }}") == "6 abc [1,2]"


# --- dates --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ \"2024-01-02T03:04:05.123Z\" | date(\"yyyy-MM-dd'T'HH:mm\") }}", "2024-01-02T03:04"),
        ("{{ '2024-01-02T03:04:05.123Z' | date('EEEE EEE MMMM MMM M d') }}", "Tuesday Tue January Jan 1 2"),
        ("{{ '2024-01-02T15:04:05.123Z' | date('yy yyyy MM dd H HH h hh a mm ss SSS') }}", "24 2024 01 02 15 15 3 03 PM 04 05 123"),
        ("{{ '2024-01-02T03:04:05Z' | date('HH:mm XXX Z z', timeZone='Europe/Paris') }}", "04:04 +01:00 +0100 CET"),
        ("{{ '2024-07-02T23:30:00Z' | date('yyyy-MM-dd HH:mm XXX', timeZone='America/New_York') }}", "2024-07-02 19:30 -04:00"),
        ("{{ '2024-01-02T03:04:05Z' | date('XXX') }}", "Z"),
        ("{{ execution.startDate | date('iso') }}", "2024-01-02T03:04:05.123000Z"),
        ("{{ execution.startDate | date('iso_sec') }} {{ execution.startDate | date('sql_seq') }}", "2024-01-02T03:04:05Z 2024-01-02 03:04:05"),
        ("{{ 1704164645 | date('yyyy-MM-dd HH:mm:ss') }}", "2024-01-02 03:04:05"),
        ("{{ '2024-01-02' | date('dd/MM/yyyy') }}", "02/01/2024"),
        ("{{ '02/01/2024 10:00' | date('yyyy-MM-dd HH:mm', existingFormat='dd/MM/yyyy HH:mm') }}", "2024-01-02 10:00"),
        ("{{ '2024-01-31T00:00:00Z' | dateAdd(1, 'MONTHS', format='yyyy-MM-dd') }}", "2024-02-29"),
        ("{{ '2024-01-02T00:00:00Z' | dateAdd(-2, 'HOURS', format='yyyy-MM-dd HH:mm') }}", "2024-01-01 22:00"),
        ("{{ '2024-01-02T03:04:05.123Z' | timestamp }} {{ '2024-01-02T03:04:05.123Z' | timestampMilli }}", "1704164645 1704164645123"),
    ],
)
def test_it_formats_dates_with_java_patterns(template: str, expected: str) -> None:
    assert r(template) == expected


def test_it_returns_now_as_an_aware_datetime() -> None:
    before = dt.datetime.now(dt.UTC)
    value = render_typed("{{ now() }}", {})
    assert isinstance(value, dt.datetime) and value.tzinfo is not None
    assert before <= value <= dt.datetime.now(dt.UTC)
    assert render_typed("{{ now(timeZone='Europe/Paris') }}", {}).utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))


# --- render(), functions ------------------------------------------------------------------
def test_it_renders_a_variable_that_holds_an_expression() -> None:
    assert r("{{ render(vars.greeting) }}") == "world"
    assert r("{{ render(vars.nested) }}") == "world!"


def test_it_stops_render_recursion_at_depth_ten() -> None:
    assert "render() nests more than 10 levels deep" in error_of("{{ render(vars.self) }}")


def test_it_passes_engine_functions_to_the_template_and_to_render() -> None:
    functions = {"secret": lambda name: f"s3cr3t-{name}"}
    assert render("{{ secret('KEY') }}", CONTEXT, functions) == "s3cr3t-KEY"
    assert render("{{ render(\"{{ secret('K') }}\") }}", CONTEXT, functions) == "s3cr3t-K"
    assert "'secret' is undefined" in error_of("{{ secret('KEY') }}")


def test_it_names_the_template_when_an_engine_function_fails() -> None:
    def kv(key: str) -> str:
        raise ExpressionError(f"no KV entry '{key}'")

    with pytest.raises(ExpressionError, match=r"^Unable to render '\{\{ kv\('x'\) \}\}': no KV entry 'x'$"):
        render("{{ kv('x') }}", CONTEXT, {"kv": kv})


# --- render_typed and render_value -------------------------------------------------------
def test_it_returns_the_native_value_of_a_lone_expression() -> None:
    assert render_typed("{{ outputs.t2.list }}", CONTEXT) == [1, 2, 3]
    assert render_typed("  {{ inputs.map }}\n", CONTEXT) == {"k": "v", "n": 2}
    assert render_typed("{{ inputs.count + 1 }}", CONTEXT) == 4
    assert render_typed("{{ taskrun.attemptsCount == 1 }}", CONTEXT) is True
    assert render_typed("{{ outputs.t2.nothing }}", CONTEXT) is None


def test_it_returns_text_when_the_template_is_more_than_one_expression() -> None:
    assert render_typed("a {{ inputs.count }}", CONTEXT) == "a 3"
    assert render_typed("{{ inputs.count }}{{ inputs.count }}", CONTEXT) == "33"
    assert render_typed("plain", CONTEXT) == "plain"


def test_it_raises_for_an_undefined_lone_expression() -> None:
    with pytest.raises(ExpressionError, match="variable 'outputs.t.value' is undefined"):
        render_typed("{{ outputs.t.value }}", CONTEXT)


def test_it_renders_every_string_in_a_structure() -> None:
    value = {"{{ task.id }}": ["{{ inputs.count }}", 7, {"k": "{{ inputs.items }}"}], "n": None}
    assert render_value(value, CONTEXT) == {"t1": ["3", 7, {"k": '["a","b"]'}], "n": None}


# --- truthiness ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [None, False, 0, 0.0, "", "false", "FALSE", " 0 ", "-0", "0.0", "null", "No", "off", [], {}],
)
def test_it_treats_kestra_falsy_values_as_false(value: Any) -> None:
    assert is_truthy(value) is False


@pytest.mark.parametrize("value", [True, 1, -1, 0.1, "true", "yes", "x", "00", [0], {"a": None}])
def test_it_treats_other_values_as_true(value: Any) -> None:
    assert is_truthy(value) is True


def test_it_treats_an_undefined_value_as_false() -> None:
    assert is_truthy(StrictUndefined(name="x")) is False


# --- sandbox ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ().__class__.__bases__[0].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ lipsum.__globals__ }}",
        "{{ joiner }}",
        "{{ namespace() }}",
        "{{ config }}",
        "{{ request }}",
        "{{ range(10**10)|list }}",
        "{{ '{0.__class__}'.format(inputs) }}",
        "{{ 'a' * 10**9 }}",
        "{{ [1] * 10**9 }}",
        "{{ 10 ** 1000000 }}",
        "{{ '%999999999d' % 1 }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ (10).to_bytes(10**9, 'big') }}",
        "{{ inputs.map.pop('k') }}",
        "{{ inputs.items.append(1) }}",
        "{{ 'x' | attr('__class__') }}",
        "{{ now().__class__.__mro__ }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set s %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}",
        "{% include 'etc/passwd' %}",
    ],
)
def test_it_refuses_escapes_from_the_sandbox(template: str) -> None:
    with pytest.raises(ExpressionError):
        r(template)


def test_it_leaves_the_context_untouched() -> None:
    items = ["a"]
    with pytest.raises(ExpressionError):
        render("{{ items.append('b') }}", {"items": items})
    assert items == ["a"]


# --- errors -------------------------------------------------------------------------------
def test_it_points_at_the_line_and_column_of_a_syntax_error() -> None:
    assert error_of("ok\n{{ 1 + }}") == (
        "Unable to render 'ok\n{{ 1 + }}': syntax error at line 2, column 8: expected a value, found the end of the expression"
    )
    assert "syntax error at line 1, column 1: '{{' is never closed" in error_of("{{ task.id")
    assert "Encountered unknown tag 'frobnicate'" in error_of("{% frobnicate %}")


def test_it_names_an_unknown_filter() -> None:
    assert "No filter named 'nope'" in error_of("{{ 1 | nope }}")


def test_it_wraps_runtime_errors() -> None:
    assert error_of("{{ 1 / 0 }}").endswith("ZeroDivisionError: division by zero")


def test_it_truncates_a_long_template_in_the_message() -> None:
    template = "{{ nope }}" + "x" * 500
    message = error_of(template)
    assert message.startswith("Unable to render '{{ nope }}xxx") and "x" * 300 not in message


@settings(deadline=None, max_examples=300)
@given(
    st.lists(
        st.sampled_from(["{{", "}}", "{%", "%}", "?", "??", ":", "'", '"', " ", "a", "outputs", ".", "[", "]", "(", ")", "|", "1", "-", "if", "for", "#", "{", "}"]),
        max_size=20,
    ).map("".join)
)
def test_it_only_ever_returns_text_or_raises_expression_error(template: str) -> None:
    try:
        assert isinstance(render(template, CONTEXT), str)
    except ExpressionError:
        pass
