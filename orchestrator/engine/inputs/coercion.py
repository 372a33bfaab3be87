"""Turn a given input value into the typed, JSON-compatible value of its input type.

A value may arrive as text (a command line ``--input n=12``, a form), already typed (JSON
from the API, a subflow call), or as JSON text (``true``, ``["a","b"]``). Each coercer
returns the normalised value or raises ``ValueError`` with a message that does not name
the input (the caller adds the name).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import regex
import yaml

from orchestrator.engine.durations import format_duration, parse_duration, parse_iso_duration

if TYPE_CHECKING:
    from orchestrator.engine.inputs.definitions import InputDefinition

# How long an input's validator may take on one value.
VALIDATOR_SECONDS = 1.0
_INT = re.compile(r"^[+-]?\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def coerce(definition: InputDefinition, value: Any) -> Any:
    """The value ``definition`` accepts for ``value``, checked against its validators."""
    kind = definition.type.canonical
    result = _COERCERS[kind](definition, value)
    _check_bounds(definition, kind, result)
    return result


def shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _string(definition: InputDefinition, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        raise ValueError(f"expected a string, got {shown(value)}")
    pattern = definition.validator
    if pattern is None:
        return text
    try:
        # With a time limit: a pattern such as (a+)+$ backtracks exponentially on a crafted
        # value, and Python's re would hold the interpreter (the whole server) meanwhile.
        matched = regex.fullmatch(pattern, text, timeout=VALIDATOR_SECONDS)
    except regex.error as exc:  # reported where the flow defines it; defaults are checked too
        raise ValueError(f"the validator {pattern!r} is not a valid regular expression: {exc}") from None
    except TimeoutError:
        raise ValueError(f"the validator {pattern!r} took longer than {VALIDATOR_SECONDS:g} s on this value "
                         "(a pattern that backtracks, such as (a+)+; simplify it)") from None
    if matched is None:
        raise ValueError(f"value {shown(text)} does not match the validator {pattern!r}")
    return text


def _int(definition: InputDefinition, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT.match(value.strip()):
        return int(value.strip())
    raise ValueError(f"expected an integer, got {shown(value)}")


def _float(definition: InputDefinition, value: Any) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValueError(f"expected a number, got {shown(value)}")
    return number


def _bool(definition: InputDefinition, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {shown(value)}")


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected an ISO-8601 date-time such as 2024-01-31T10:00:00Z, got {shown(value)}") from None
    else:
        raise ValueError(f"expected an ISO-8601 date-time such as 2024-01-31T10:00:00Z, got {shown(value)}")
    # A date-time without an offset is read as UTC, as Kestra does.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date such as 2024-01-31, got {shown(value)}")


def parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            parsed = time.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            return parsed
    raise ValueError(f"expected a time such as 13:45:00, got {shown(value)}")


def _datetime(definition: InputDefinition, value: Any) -> str:
    parsed = parse_datetime(value)
    return parsed.isoformat().replace("+00:00", "Z")


def _date(definition: InputDefinition, value: Any) -> str:
    return parse_date(value).isoformat()


def _time(definition: InputDefinition, value: Any) -> str:
    return parse_time(value).isoformat()


def _duration(definition: InputDefinition, value: Any) -> str:
    # Kestra reads a DURATION value with Duration.parse alone: no number of seconds.
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 duration such as PT15M, got {shown(value)}")
    return format_duration(parse_iso_duration(value))


def _json(definition: InputDefinition, value: Any) -> Any:
    if not isinstance(value, str):
        return _json_compatible(value)
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _yaml(definition: InputDefinition, value: Any) -> Any:
    if not isinstance(value, str):
        return _json_compatible(value)
    try:
        return _json_compatible(yaml.safe_load(value))
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}") from None


def _json_compatible(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _array(definition: InputDefinition, value: Any) -> list[Any]:
    items = _list_of(value, "expected a list (or a JSON array)")
    item_type = definition.itemType
    if item_type is None:
        return [_json_compatible(item) for item in items]
    item_definition = definition.model_copy(update={"type": item_type, "itemType": None})
    result = []
    for index, item in enumerate(items):
        try:
            result.append(coerce(item_definition, item))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}") from None
    return result


def _list_of(value: Any, problem: str) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"{problem}, got {shown(value)}") from None
    if not isinstance(value, list | tuple):
        raise ValueError(f"{problem}, got {shown(value)}")
    return list(value)


def _select(definition: InputDefinition, value: Any) -> str:
    text = _choice_text(value)
    allowed = definition.choices
    if not definition.allowCustomValue and allowed and text not in allowed:
        raise ValueError(f"{shown(text)} is not one of the allowed values {allowed}")
    return text


def _multiselect(definition: InputDefinition, value: Any) -> list[str]:
    if isinstance(value, str) and not value.lstrip().startswith("["):
        items: list[Any] = [value]
    else:
        items = _list_of(value, "expected a list of values (or a JSON array)")
    chosen = [_choice_text(item) for item in items]
    allowed = definition.choices
    if not definition.allowCustomValue and allowed:
        unknown = [c for c in chosen if c not in allowed]
        if unknown:
            raise ValueError(f"{', '.join(map(shown, unknown))} not among the allowed values {allowed}")
    return chosen


def _choice_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"expected one value, got {shown(value)}")


def _uri(definition: InputDefinition, value: Any) -> str:
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = urlparse(text)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.scheme and (parsed.netloc or parsed.path) and " " not in text:
            return text
    raise ValueError(f"expected a URI with a scheme such as https://example.com/file, got {shown(value)}")


def _email(definition: InputDefinition, value: Any) -> str:
    if isinstance(value, str) and _EMAIL.match(value.strip()):
        return value.strip()
    raise ValueError(f"expected an email address, got {shown(value)}")


def _file(definition: InputDefinition, value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise ValueError(f"expected a file path or URI, got {shown(value)}")


_COERCERS: dict[str, Callable[[InputDefinition, Any], Any]] = {
    "STRING": _string,
    "SECRET": _string,
    "INT": _int,
    "FLOAT": _float,
    "BOOLEAN": _bool,
    "DATETIME": _datetime,
    "DATE": _date,
    "TIME": _time,
    "DURATION": _duration,
    "JSON": _json,
    "YAML": _yaml,
    "ARRAY": _array,
    "SELECT": _select,
    "MULTISELECT": _multiselect,
    "URI": _uri,
    "EMAIL": _email,
    "FILE": _file,
}


def bound(kind: str, value: Any) -> Any:
    """A ``min``/``max``/``after``/``before`` as a comparable value of the input's type."""
    if kind == "INT":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {shown(value)}")
        return value
    if kind == "FLOAT":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {shown(value)}")
        return float(value)
    if kind == "DURATION":
        return parse_duration(value)
    if kind == "DATETIME":
        return parse_datetime(value)
    if kind == "DATE":
        return parse_date(value)
    if kind == "TIME":
        return parse_time(value)
    raise ValueError(f"{kind} inputs have no bounds")


def _comparable(kind: str, value: Any) -> Any:
    if kind == "DURATION":
        return parse_duration(value)
    if kind in ("DATETIME", "DATE", "TIME"):
        return bound(kind, value)
    return value


def _check_bounds(definition: InputDefinition, kind: str, value: Any) -> None:
    low = definition.min if kind in ("INT", "FLOAT", "DURATION") else definition.after
    high = definition.max if kind in ("INT", "FLOAT", "DURATION") else definition.before
    if kind not in ("INT", "FLOAT", "DURATION", "DATETIME", "DATE", "TIME"):
        return
    current = _comparable(kind, value)
    if low is not None and current < bound(kind, low):
        word = "at least" if kind in ("INT", "FLOAT", "DURATION") else "after"
        raise ValueError(f"{shown(value)} must be {word} {shown(_text(low))}")
    if high is not None and current > bound(kind, high):
        word = "at most" if kind in ("INT", "FLOAT", "DURATION") else "before"
        raise ValueError(f"{shown(value)} must be {word} {shown(_text(high))}")


def _text(value: Any) -> Any:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value
