"""Durations as Kestra reads them, as pydantic types, and resolved at run time.

Kestra reads a duration property with Java's ``Duration.parse`` (``PT15M``, ``pt0.25s``,
``P2DT3H4M``, ``-PT6H+3M``: letters in either case, days, hours, minutes, seconds with up
to nine decimals, a sign before the whole and before each part; no weeks, months or
years) and, through its own Jackson deserializer, also a number of seconds (``60``,
``1.5``, ``"90"``). A property may also be an expression, rendered when it is used.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

from orchestrator.engine.expressions.errors import ExpressionError

# java.time.Duration's grammar, read case-insensitively like Duration.parse.
_JAVA_DURATION = re.compile(
    r"(?P<sign>[-+]?)P(?:(?P<days>[-+]?[0-9]+)D)?"
    r"(?P<time>T(?:(?P<hours>[-+]?[0-9]+)H)?(?:(?P<minutes>[-+]?[0-9]+)M)?"
    r"(?:(?P<seconds>[-+]?[0-9]+)(?:[.,](?P<fraction>[0-9]{0,9}))?S)?)?",
    re.IGNORECASE,
)
# Kestra's DurationDeserializer reads text made of digits and dots as a number of seconds.
_SECONDS = re.compile(r"[-+]?[0-9.]+")
_EXPECTED = "expected ISO-8601 such as PT30S, PT15M or P2DT3H"
# Java's Duration goes further, but a wait or a timeout beyond a century is a typo, and
# adding one to now would overflow the dates it is stored as.
MAX_DURATION = timedelta(days=36_500)
_TOO_LARGE = "too large: a duration may be at most 100 years (P36500D)"
# More digits than this is beyond MAX_DURATION in any unit; refused before int() reads them.
_MAX_DIGITS = 18


class DurationTooLarge(ValueError):
    """A duration beyond MAX_DURATION."""


def is_template(value: Any) -> bool:
    """True for text that holds an expression, which only has a value at run time."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def parse_iso_duration(text: str) -> timedelta:
    """Exactly what Java's ``Duration.parse`` accepts (surrounding blanks aside).

    Java keeps nanoseconds; a timedelta keeps microseconds, so finer digits are dropped.
    """
    stripped = text.strip()
    match = _JAVA_DURATION.fullmatch(stripped)
    # Like Java: at least one part, and a "T" must be followed by a part.
    if match is None or match["time"] == "T" or not any(
        match[part] for part in ("days", "hours", "minutes", "seconds")
    ):
        raise ValueError(f"invalid duration {_shown(text)}: {_EXPECTED}{_hint(stripped)}")
    if any(len(match[part] or "") > _MAX_DIGITS for part in ("days", "hours", "minutes", "seconds")):
        raise DurationTooLarge(f"invalid duration {_shown(text)}: {_TOO_LARGE}")
    seconds_text = match["seconds"] or "0"
    # The fraction takes the sign of its seconds: PT-0.5S is minus half a second.
    fraction = int((match["fraction"] or "").ljust(9, "0")) // 1000
    micros = -fraction if seconds_text.startswith("-") else fraction
    try:
        value = timedelta(
            days=int(match["days"] or 0), hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0),
            seconds=int(seconds_text), microseconds=micros,
        )
    except OverflowError:
        raise DurationTooLarge(f"invalid duration {_shown(text)}: {_TOO_LARGE}") from None
    return _bounded(-value if match["sign"] == "-" else value, text)


def _bounded(value: timedelta, shown: Any) -> timedelta:
    if abs(value) > MAX_DURATION:
        raise DurationTooLarge(f"invalid duration {_shown(shown)}: {_TOO_LARGE}")
    return value


def _shown(value: Any) -> str:
    """The value as an error message quotes it: long ones cut, so the message stays readable."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


def _hint(text: str) -> str:
    upper = text.upper()
    date_part = upper.split("T", 1)[0]
    if "W" in date_part:
        return " (weeks are not accepted, as in Kestra: write days, such as P14D)"
    if "Y" in date_part or ("M" in date_part and date_part.startswith(("P", "-P", "+P"))):
        return " (years and months have no fixed length: write days, such as P30D; PT1M is one minute)"
    return ""


def parse_duration(value: Any) -> timedelta:
    """A duration property's value: ISO-8601 as Java reads it, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _seconds(value, value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: {_EXPECTED}, or a number of seconds")
    text = value.strip()
    if _SECONDS.fullmatch(text):
        try:
            return _seconds(float(text), value)
        except ValueError:
            raise ValueError(f"invalid duration {_shown(value)}: not a number of seconds") from None
    return parse_iso_duration(value)


def _seconds(number: float, shown: Any) -> timedelta:
    if not math.isfinite(number):
        raise ValueError(f"invalid duration {_shown(shown)}: not a number of seconds")
    try:
        return _bounded(timedelta(seconds=number), shown)
    except OverflowError:
        raise DurationTooLarge(f"invalid duration {_shown(shown)}: {_TOO_LARGE}") from None


def format_duration(value: timedelta) -> str:
    """ISO-8601 with days (``P1DT2H``, ``PT1.5S``, ``-PT5M``, ``P0D``)."""
    total = abs(value)
    micros = (total.days * 86400 + total.seconds) * 1_000_000 + total.microseconds
    seconds, micros = divmod(micros, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = f"{days}D" if days else ""
    if hours or minutes or seconds or micros:
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        if seconds or micros:
            text += (f"{seconds}.{micros:06d}".rstrip("0") if micros else str(seconds)) + "S"
    return ("-" if value < timedelta(0) else "") + "P" + (text or "0D")


class DurationError(ExpressionError):
    """A duration property whose expression did not render to a duration.

    An expression error, so that whoever runs the task fails it with this message.
    """


def resolve_duration(value: timedelta | str | None, render: Callable[[str], str], prop: str, *,
                     positive: bool = False) -> timedelta | None:
    """The duration a property stands for now: a literal as is, an expression rendered
    with ``render`` then read as a duration. Raises DurationError naming ``prop``."""
    if value is None or isinstance(value, timedelta):
        return value
    try:
        rendered = render(value)
    except ExpressionError as exc:
        raise DurationError(f"Invalid {prop}: {exc}") from None
    try:
        result = parse_duration(rendered)
    except DurationTooLarge:
        raise DurationError(f"Invalid {prop} {_shown(value)}: it rendered to {_shown(rendered)}, {_TOO_LARGE}") from None
    except ValueError:
        raise DurationError(
            f"Invalid {prop} {value!r}: it rendered to {rendered!r}, which is not a duration "
            f"({_EXPECTED}, or a number of seconds)"
        ) from None
    if positive and result <= timedelta(0):
        raise DurationError(f"Invalid {prop} {value!r}: it rendered to {rendered!r}; a {prop} must be positive")
    return result


def _duration_or_template(value: Any) -> timedelta | str:
    return value if is_template(value) else parse_duration(value)


def _positive_or_template(value: Any) -> timedelta | str:
    result = _duration_or_template(value)
    # A timeout of zero or less could only fail the task at once: surely a mistake.
    if isinstance(result, timedelta) and result <= timedelta(0):
        raise ValueError(f"a timeout must be positive, got {value!r}")
    return result


def _dump(value: timedelta | str) -> str:
    return format_duration(value) if isinstance(value, timedelta) else value


_LITERAL_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "format": "duration"}, {"type": "number"}],
    "examples": ["PT30S", "PT15M", "P1D"],
}
_DYNAMIC_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "number"}],
    "description": "ISO-8601 (PT30S, PT15M, P2DT3H), a number of seconds, or an expression",
    "examples": ["PT30S", "PT15M", "{{ inputs.delay }}"],
}

# A literal duration, read when the flow is validated.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_LITERAL_SCHEMA),
]
# A duration or an expression: a literal is checked when the flow is validated, an
# expression is kept as written and read with resolve_duration when it is used.
DynamicDuration = Annotated[
    timedelta | str,
    PlainValidator(_duration_or_template),
    PlainSerializer(_dump, return_type=str),
    WithJsonSchema(_DYNAMIC_SCHEMA),
]
# The same, for a task's timeout: a literal must be positive.
Timeout = Annotated[
    timedelta | str,
    PlainValidator(_positive_or_template),
    PlainSerializer(_dump, return_type=str),
    WithJsonSchema(_DYNAMIC_SCHEMA),
]
