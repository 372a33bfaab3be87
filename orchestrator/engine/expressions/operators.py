"""Runtime helpers behind the Pebble operators the translator emits as ``_pebble_*`` filters.

They are filters rather than globals because Jinja calls filters directly, while global
function calls go through the sandbox's slower ``call`` checks on every render.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from orchestrator.engine.expressions.display import to_display
from orchestrator.engine.expressions.limits import MAX_LOOP_ITERATIONS, MAX_RANGE, CheckedLoop, check_size
from orchestrator.engine.expressions.mapentry import entries
from orchestrator.engine.expressions.truthy import condition
from orchestrator.engine.expressions.undefined import ChainedUndefined


def with_path(value: Any, path: str) -> Any:
    """Label an undefined result with the path as the template wrote it."""
    if isinstance(value, ChainedUndefined):
        return value.with_path(path)
    return value


def some(value: Any) -> list[Any]:
    """``[value]`` unless it is undefined or null: the left side of ``??``."""
    if value is None or isinstance(value, Undefined):
        return []
    return [value]


def known(value: Any) -> list[Any]:
    """``[value]`` unless it is undefined, even when null: the left side of ``???``."""
    if isinstance(value, Undefined):
        return []
    return [value]


def concat(left: Any, right: Any) -> str:
    """Pebble's ``~``: both sides as they would render."""
    text = to_display(left) + to_display(right)
    check_size(len(text))
    return text


def contains(container: Any, item: Any) -> bool:
    """Pebble's ``contains``: substring, key of a map, element of a list (or all of a list)."""
    for side in (container, item):
        if isinstance(side, Undefined):
            side._fail_with_undefined_error()
    if container is None:
        return False
    if isinstance(item, list) and not isinstance(container, str):
        return all(element in container for element in item)
    return bool(item in container)


def inclusive_range(start: Any, stop: Any = None, step: Any = 1) -> list[int]:
    """Pebble's ``a..b`` and ``range(a, b[, step])``: both ends included, size capped.

    Pebble has no one-argument form, so ``range(n)`` keeps Jinja's meaning, ``0..n-1``.
    """
    if stop is None:
        start, stop = 0, int(start) - 1
    start, stop, step = int(start), int(stop), int(step)
    if step == 0:
        raise ValueError("range() step must not be zero")
    size = (abs(stop - start) // abs(step)) + 1 if (stop - start) * step >= 0 else 0
    if size > MAX_RANGE:
        raise SecurityError(f"range() cannot produce more than {MAX_RANGE} elements, this one would produce {size}")
    return list(range(start, stop + (1 if step > 0 else -1), step))


@pass_context
def loop_items(context: Context, value: Any, as_entries: bool) -> Iterable[Any]:
    """What a ``{% for %}`` iterates: map entries for a single loop variable, nothing for null.

    Every loop of one render shares an iteration budget, so nested loops cannot spin forever.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return []
    if as_entries and isinstance(value, Mapping):
        value = entries(value)
    budget: int = getattr(context, "_pebble_loop_budget", MAX_LOOP_ITERATIONS)
    items = list(islice(value, budget + 1))
    if len(items) > budget:
        raise SecurityError(f"loops in one expression cannot run more than {MAX_LOOP_ITERATIONS} iterations")
    context._pebble_loop_budget = budget - len(items)  # type: ignore[attr-defined]
    return CheckedLoop(items)


OPERATOR_FILTERS: dict[str, Callable[..., Any]] = {
    "_pebble_path": with_path,
    "_pebble_truthy": condition,
    "_pebble_some": some,
    "_pebble_known": known,
    "_pebble_concat": concat,
    "_pebble_contains": contains,
    "_pebble_range": inclusive_range,
    "_pebble_loop": loop_items,
}
