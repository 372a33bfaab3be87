"""ISO-8601 durations (PT15M, P1D, PT0.250S) as a pydantic type."""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import isodate
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

DURATION_PATTERN = r"^-?P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"


def parse_duration(value: Any) -> timedelta:
    """Parse an ISO-8601 duration; months and years are not fixed lengths and are refused."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 duration such as PT15M, got {value!r}")
    try:
        parsed = isodate.parse_duration(value.strip())
    except (isodate.ISO8601Error, ValueError):
        raise ValueError(f"invalid duration {value!r}: expected ISO-8601 such as PT30S, PT15M or P1D") from None
    if not isinstance(parsed, timedelta):
        raise ValueError(f"invalid duration {value!r}: months and years have no fixed length, use days (P30D)")
    return parsed


def format_duration(value: timedelta) -> str:
    return str(isodate.duration_isoformat(value))


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["PT30S", "PT15M", "P1D"]}),
]
