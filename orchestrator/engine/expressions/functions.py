"""Global functions every template may call (``render()`` lives with the renderer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from orchestrator.engine.expressions.dates import now
from orchestrator.engine.expressions.encoding import json_decode
from orchestrator.engine.expressions.operators import inclusive_range


def maximum(*values: Any) -> Any:
    """Pebble's ``max(a, b, ...)``; a single list argument is searched too."""
    return max(_candidates(values))


def minimum(*values: Any) -> Any:
    return min(_candidates(values))


def _candidates(values: tuple[Any, ...]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
    if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
        return values[0]
    return values


@pass_context
def print_context(context: Context) -> dict[str, Any]:
    """The variables the template can see, without functions and internals."""
    return {
        name: value
        for name, value in context.get_all().items()
        if not callable(value) and not name.startswith("_") and name not in ("dict",)
    }


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "now": now,
    "fromJson": json_decode,
    "json": json_decode,
    "jsonDecode": json_decode,
    "range": inclusive_range,
    "max": maximum,
    "min": minimum,
    "printContext": print_context,
}
