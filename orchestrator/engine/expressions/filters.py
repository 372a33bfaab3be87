"""Pebble/Kestra string and collection filters.

Like Pebble's, they return null for a null input, and an undefined input raises.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from jinja2 import Undefined

from orchestrator.engine.expressions.display import to_display
from orchestrator.engine.expressions.limits import check_size

F = TypeVar("F", bound=Callable[..., Any])
_MAX_INDENT = 1_000


def null_safe(function: F) -> F:
    """Return None for a None input; raise for an undefined one."""

    @functools.wraps(function)
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        if value is None:
            return None
        return function(value, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def is_empty(value: Any) -> bool:
    """Pebble's ``empty``: null, undefined, blank string, empty collection or map."""
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return len(value) == 0
    return False


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Pebble's ``default``: the fallback when the value is undefined, null or empty."""
    return default_value if is_empty(value) else value


@null_safe
def first(value: Any) -> Any:
    return next(iter(value), None)


@null_safe
def last(value: Any) -> Any:
    items = value if isinstance(value, (str, list, tuple)) else list(value)
    return items[-1] if items else None


def length(value: Any) -> int:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return 0 if value is None else len(value)


@null_safe
def upper(value: Any) -> str:
    return to_display(value).upper()


@null_safe
def lower(value: Any) -> str:
    return to_display(value).lower()


@null_safe
def capitalize(value: Any) -> str:
    text = to_display(value)
    return text[:1].upper() + text[1:]


@null_safe
def title(value: Any) -> str:
    words = to_display(value).split(" ")
    return " ".join(word[:1].upper() + word[1:] for word in words)


@null_safe
def trim(value: Any, chars: str | None = None) -> str:
    return to_display(value).strip(chars)


@null_safe
def abbreviate(value: Any, length: int) -> str:
    text = to_display(value)
    if len(text) <= length:
        return text
    return text[:length] if length < 3 else text[: length - 3] + "..."


@null_safe
def replace(value: Any, old: Any, new: Any = None, count: int | None = None) -> str:
    """Pebble's ``replace({'a': 'b'})`` and Jinja's ``replace('a', 'b'[, count])``."""
    text = to_display(value)
    pairs = list(old.items()) if isinstance(old, Mapping) else [(old, "" if new is None else new)]
    for search, replacement in pairs:
        search, replacement = to_display(search), to_display(replacement)
        occurrences = text.count(search) if count is None else min(text.count(search), count)
        check_size(len(text) + occurrences * (len(replacement) - len(search)))
        text = text.replace(search, replacement, -1 if count is None else count)
    return text


@null_safe
def split(value: Any, delimiter: str, limit: int | None = None) -> list[str]:
    text = to_display(value)
    return text.split(delimiter, limit - 1) if limit and limit > 0 else text.split(delimiter)


@null_safe
def join(value: Iterable[Any], separator: str = "") -> str:
    sep = to_display(separator)
    items = [to_display(item) for item in value]
    check_size(sum(map(len, items)) + len(sep) * max(len(items) - 1, 0))
    return sep.join(items)


@null_safe
def keys(value: Mapping[Any, Any]) -> list[Any]:
    return list(value.keys())


@null_safe
def values(value: Mapping[Any, Any]) -> list[Any]:
    return list(value.values())


@null_safe
def reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(list(value)))


@null_safe
def rsort(value: Iterable[Any]) -> list[Any]:
    return sorted(value, reverse=True)


@null_safe
def slice_filter(value: Any, start: int = 0, stop: int | None = None) -> Any:
    """Pebble's ``slice(fromIndex, toIndex)`` on a string or a list."""
    items = value if isinstance(value, (str, list, tuple)) else list(value)
    return items[start : len(items) if stop is None else stop]


@null_safe
def starts_with(value: Any, prefix: str) -> bool:
    return to_display(value).startswith(prefix)


@null_safe
def ends_with(value: Any, suffix: str) -> bool:
    return to_display(value).endswith(suffix)


@null_safe
def substring_before(value: Any, separator: str) -> str:
    return to_display(value).partition(separator)[0]


@null_safe
def substring_before_last(value: Any, separator: str) -> str:
    text = to_display(value)
    head, found, _ = text.rpartition(separator)
    return head if found else text


@null_safe
def substring_after(value: Any, separator: str) -> str:
    _, found, tail = to_display(value).partition(separator)
    return tail if found else ""


@null_safe
def substring_after_last(value: Any, separator: str) -> str:
    _, found, tail = to_display(value).rpartition(separator)
    return tail if found else ""


_ESCAPES = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}


@null_safe
def escape_char(value: Any, type: str) -> Any:
    """Kestra's ``escapeChar('single' | 'double' | 'shell')``, applied through maps and lists."""
    search, replacement = _ESCAPES[str(type).lower()]
    if isinstance(value, Mapping):
        return {key: escape_char(item, type) for key, item in value.items()}
    if isinstance(value, list):
        return [escape_char(item, type) for item in value]
    return to_display(value).replace(search, replacement)


_NUMBER_TYPES: dict[str, Callable[[str], Any]] = {
    "INT": int, "LONG": int, "BIGINTEGER": int, "FLOAT": float, "DOUBLE": float, "BIGDECIMAL": Decimal,
}  # fmt: skip


@null_safe
def number(value: Any, type: str | None = None) -> Any:
    """Kestra's ``number``: a numeric string as an int or a float (or the given ``type``)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise TypeError(f"'number' filter can only be applied to a string, got {value.__class__.__name__}")
    text = str(value).strip()
    if type:
        return _NUMBER_TYPES[type.upper()](text)
    try:
        return int(text, 0) if text.lower().startswith(("0x", "-0x")) else int(text)
    except ValueError:
        return float(text)


@null_safe
def chunk(value: Any, size: int) -> list[list[Any]]:
    items = list(value)
    size = int(size)
    if size <= 0:
        raise ValueError("chunk size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)]


@null_safe
def distinct(value: Iterable[Any]) -> list[Any]:
    result: list[Any] = []
    seen: set[Any] = set()
    for item in value:
        try:
            if item in seen:
                continue
            seen.add(item)
        except TypeError:  # unhashable maps and lists are compared one by one
            if item in result:
                continue
        result.append(item)
    return result


@null_safe
def flatten(value: Iterable[Any]) -> list[Any]:
    result: list[Any] = []
    for item in value:
        result.extend(item if isinstance(item, (list, tuple)) else [item])
    return result


@null_safe
def merge(value: Any, other: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(other, Mapping):
        return {**value, **other}
    return [*value, *other]


@null_safe
def indent(value: Any, amount: int, prefix: str = " ") -> str:
    """Kestra's ``indent``: indent every line but the first."""
    padding = _padding(amount, prefix)
    lines = to_display(value).split("\n")
    check_size(sum(len(line) for line in lines) + len(padding) * len(lines))
    return "\n".join([lines[0], *(padding + line for line in lines[1:])])


@null_safe
def nindent(value: Any, amount: int, prefix: str = " ") -> str:
    """Kestra's ``nindent``: a newline, then every line indented."""
    padding = _padding(amount, prefix)
    lines = to_display(value).split("\n")
    check_size(sum(len(line) for line in lines) + len(padding) * len(lines))
    return "\n" + "\n".join(padding + line for line in lines)


def _padding(amount: int, prefix: str) -> str:
    if not 0 <= int(amount) <= _MAX_INDENT:
        raise ValueError(f"indent amount must be between 0 and {_MAX_INDENT}")
    return to_display(prefix)[:1] * int(amount)


def string(value: Any) -> str:
    return to_display(value)
