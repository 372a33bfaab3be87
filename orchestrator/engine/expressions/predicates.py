"""Pebble's tests (``x is null``, ``x is empty``...) that Jinja lacks or defines differently."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import Undefined

from orchestrator.engine.expressions.filters import is_empty


def is_null(value: Any) -> bool:
    """Null or undefined: ``outputs.missing is null`` is true rather than an error."""
    return value is None or isinstance(value, Undefined)


def is_json(value: Any) -> bool:
    """A string that parses as JSON."""
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_iterable(value: Any) -> bool:
    """Pebble's ``iterable``: a list-like value; strings and maps are not."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))


TESTS: dict[str, Callable[..., bool]] = {
    "null": is_null,
    "empty": is_empty,
    "json": is_json,
    "map": is_map,
    "iterable": is_iterable,
}
