"""Resource caps that keep a hostile or careless expression from hanging the engine."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from orchestrator.engine.expressions.display import to_display

MAX_RANGE = 100_000  # elements one range() / a..b may produce
MAX_LOOP_ITERATIONS = 1_000_000  # iterations all {% for %} loops of one render may run
MAX_SIZE = 10_000_000  # characters of a built string, elements of a built list
MAX_OUTPUT = 50_000_000  # characters one render may produce (read() can inline big files)
MAX_POWER_BITS = 100_000  # bits of an integer built with **
MAX_RENDER_DEPTH = 10  # nested render() calls


def check_output(size: int) -> None:
    if size > MAX_OUTPUT:
        raise SecurityError(f"the rendered text would exceed {MAX_OUTPUT} characters")


def check_size(size: int) -> None:
    if size > MAX_SIZE:
        raise SecurityError(f"the result would hold {size} characters or elements, more than the limit of {MAX_SIZE}")


@pass_context
def finalize(context: Context, value: Any) -> str:
    """Jinja's ``finalize``: ``to_display``, counting what ``{{ }}`` tags print in one render.

    The count includes text captured by ``{% set %}``/``{% filter %}`` blocks and macros,
    which never reaches the top-level output check.
    """
    text = to_display(value)
    printed: int = getattr(context, "_pebble_printed", 0) + len(text)
    context._pebble_printed = printed  # type: ignore[attr-defined]
    check_output(printed)
    return text
