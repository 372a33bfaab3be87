"""Kestra's truthiness, used by ``runIf``, ``If`` conditions and template conditions."""

from __future__ import annotations

from collections.abc import Mapping, Sized
from decimal import Decimal
from typing import Any

from jinja2 import Undefined

FALSY_STRINGS = frozenset({"", "false", "0", "-0", "0.0", "null", "no", "off"})


def is_truthy(value: Any) -> bool:
    """Whether a rendered value counts as true.

    False: ``None``, ``False``, numeric zero, an undefined value, an empty list/dict/string,
    and the strings ``"false"``, ``"0"``, ``"-0"``, ``"0.0"``, ``"null"``, ``"no"``, ``"off"``
    compared case-insensitively after stripping whitespace. Everything else is true.
    """
    if value is None or isinstance(value, Undefined):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() not in FALSY_STRINGS
    if isinstance(value, (Mapping, Sized)):
        return len(value) > 0
    return True


def condition(value: Any) -> bool:
    """Truthiness of a template condition: like ``is_truthy`` but an undefined value raises."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return is_truthy(value)
