"""Durations as Kestra reads them: Java's Duration.parse, numbers of seconds, expressions."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.engine.durations import (
    DurationError,
    format_duration,
    parse_duration,
    parse_iso_duration,
    resolve_duration,
)
from orchestrator.engine.expressions import ExpressionError, render
from orchestrator.engine.retry import next_delay
from orchestrator.engine.tasks.base import RetryPolicy

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


# The examples of java.time.Duration.parse's documentation, and its edges.
@pytest.mark.parametrize(("text", "expected"), [
    ("PT20.345S", timedelta(seconds=20, milliseconds=345)),
    ("PT15M", timedelta(minutes=15)),
    ("PT10H", timedelta(hours=10)),
    ("P2D", timedelta(days=2)),
    ("P2DT3H4M", timedelta(days=2, hours=3, minutes=4)),
    ("PT-6H3M", timedelta(hours=-6, minutes=3)),
    ("-PT6H3M", -timedelta(hours=6, minutes=3)),
    ("-PT-6H+3M", timedelta(hours=6, minutes=-3)),
    ("+PT1S", timedelta(seconds=1)),
    ("pt1m", timedelta(minutes=1)),
    ("PT0.25s", timedelta(milliseconds=250)),
    ("p1dt1h", timedelta(days=1, hours=1)),
    ("PT0,5S", timedelta(milliseconds=500)),
    ("PT1.S", timedelta(seconds=1)),
    ("PT-0.5S", timedelta(milliseconds=-500)),
    ("PT-1.5S", timedelta(milliseconds=-1500)),
    ("PT0.123456789S", timedelta(microseconds=123456)),
    ("P0D", timedelta(0)),
    ("PT90M", timedelta(hours=1, minutes=30)),
    (" PT1M ", timedelta(minutes=1)),
])
def test_iso_durations_read_as_java_reads_them(text: str, expected: timedelta) -> None:
    assert parse_iso_duration(text) == expected
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "hint"), [
    ("P1W", "weeks are not accepted"),
    ("P2W3D", "weeks are not accepted"),
    ("P1M", "months have no fixed length"),
    ("P1Y", "months have no fixed length"),
    ("P1Y2M3D", "months have no fixed length"),
    ("PT", ""),
    ("P", ""),
    ("P1DT", ""),
    ("P1D2H", ""),
    ("PT1.5M", ""),
    ("PT.5S", ""),
    ("PT0.1234567891S", ""),
    ("PT1H 30M", ""),
    ("1h", ""),
    ("PT5 minutes", ""),
    ("", ""),
    ("60", ""),
])
def test_what_java_refuses_is_refused(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as info:
        parse_iso_duration(text)
    assert hint in str(info.value)


@pytest.mark.parametrize(("value", "expected"), [
    (60, timedelta(seconds=60)),
    (1.5, timedelta(seconds=1.5)),
    ("90", timedelta(seconds=90)),
    ("0.25", timedelta(milliseconds=250)),
    ("-3", timedelta(seconds=-3)),
    (" 5. ", timedelta(seconds=5)),
    (timedelta(hours=1), timedelta(hours=1)),
])
def test_a_property_also_takes_a_number_of_seconds_as_kestra_does(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", [True, None, [], "1.2.3", ".", "1e3", float("inf"), "PT1H30", "soon"])
def test_other_values_are_not_durations(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(days=1), "P1D"),
    (timedelta(minutes=90), "PT1H30M"),
    (timedelta(0), "P0D"),
    (timedelta(seconds=1.5), "PT1.5S"),
    (timedelta(microseconds=1), "PT0.000001S"),
    (-timedelta(days=1), "-P1D"),
    (-timedelta(seconds=1.5), "-PT1.5S"),
    (timedelta(days=400, seconds=3), "P400DT3S"),
    (timedelta(hours=26), "P1DT2H"),
])
def test_durations_are_written_in_iso_8601_with_days(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_iso_duration(text) == value


def _render(**context: object):  # type: ignore[no-untyped-def]
    return lambda template: render(template, dict(context))


def test_an_expression_is_rendered_then_read() -> None:
    assert resolve_duration("{{ inputs.delay }}", _render(inputs={"delay": "pt2m"}), "delay") == timedelta(minutes=2)
    assert resolve_duration("{{ n * 2 }}", _render(n=15), "delay") == timedelta(seconds=30)
    assert resolve_duration(timedelta(seconds=1), _render(), "delay") == timedelta(seconds=1)
    assert resolve_duration(None, _render(), "delay") is None


def test_an_expression_that_is_not_a_duration_names_the_property_and_the_value() -> None:
    with pytest.raises(DurationError) as info:
        resolve_duration("{{ inputs.delay }}", _render(inputs={"delay": "soon"}), "delay")
    assert str(info.value).startswith("Invalid delay '{{ inputs.delay }}': it rendered to 'soon', which is not a duration")
    assert isinstance(info.value, ExpressionError)  # so whoever runs the task fails it


def test_an_expression_that_cannot_render_names_the_property() -> None:
    with pytest.raises(DurationError, match=r"^Invalid timeout: Unable to render '\{\{ inputs.nope \}\}'"):
        resolve_duration("{{ inputs.nope }}", _render(inputs={}), "timeout")


def test_a_rendered_timeout_must_be_positive() -> None:
    with pytest.raises(DurationError, match="a timeout must be positive"):
        resolve_duration("{{ t }}", _render(t="PT0S"), "timeout", positive=True)


def test_retry_intervals_may_be_expressions() -> None:
    policy = RetryPolicy.model_validate(
        {"type": "constant", "interval": "{{ vars.wait }}", "maxAttempt": 3, "maxDuration": "{{ vars.budget }}"}
    )
    render_ = _render(vars={"wait": "PT10S", "budget": "PT1M"})
    assert next_delay(policy, 1, T0, T0, "seed", render_) == timedelta(seconds=10)
    assert next_delay(policy, 1, T0, T0 + timedelta(seconds=55), "seed", render_) is None  # past maxDuration
    assert next_delay(policy, 3, T0, T0, "seed", render_) is None  # maxAttempt reached


def test_a_retry_interval_that_is_not_a_duration_names_it() -> None:
    policy = RetryPolicy.model_validate({"type": "exponential", "interval": "{{ vars.wait }}", "maxAttempt": 3})
    with pytest.raises(DurationError, match=r"^Invalid retry.interval '\{\{ vars.wait \}\}': it rendered to 'later'"):
        next_delay(policy, 1, T0, T0, "seed", _render(vars={"wait": "later"}))


def test_a_negative_retry_interval_retries_at_once() -> None:
    policy = RetryPolicy.model_validate({"type": "constant", "interval": "-PT5S", "maxAttempt": 2})
    assert next_delay(policy, 1, T0, T0, "seed", _render()) == timedelta(0)
