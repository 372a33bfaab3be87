"""Resource caps that keep a hostile or careless expression from hanging the engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError

MAX_RANGE = 100_000  # elements one range() / a..b may produce
MAX_LOOP_ITERATIONS = 1_000_000  # iterations all {% for %} loops of one render may run
MAX_SIZE = 10_000_000  # characters of a built string, elements of a built list
MAX_OUTPUT = 50_000_000  # characters one render may produce (read() can inline big files)
MAX_POWER_BITS = 100_000  # bits of an integer built with **
MAX_RENDER_DEPTH = 10  # nested render() calls
# Wall time of one render, jq's time aside: a render in an executor pass holds up the
# execution (loops capped in iterations alone still took 10 s: found by tests/hostile/test_fuzz.py).
MAX_RENDER_SECONDS = 2.0
# jq() runs in helper processes (see jqpool): wall time and address space of one program.
JQ_TIMEOUT_SECONDS = 10.0
JQ_MEMORY_BYTES = 512 * 1024 * 1024
JQ_HELPERS = 4  # helper processes at most, per server process

# Whether the attempt rendering here must stop (killed, timed out): set by the worker.
_stop_requested: ContextVar[Callable[[], bool] | None] = ContextVar("expression_stop_requested", default=None)


class Interrupted(BaseException):
    """The attempt rendering an expression was stopped. A BaseException so that no
    ``except Exception`` on the way (Jinja's, the renderer's) turns it into an error."""


@contextmanager
def interruptible(stop_requested: Callable[[], bool]) -> Iterator[None]:
    """Renders inside check ``stop_requested`` at loop iterations and while jq runs."""
    token = _stop_requested.set(stop_requested)
    try:
        yield
    finally:
        _stop_requested.reset(token)


def check_interrupt() -> None:
    stop_requested = _stop_requested.get()
    if stop_requested is not None and stop_requested():
        raise Interrupted()


# When the current top-level render must be over (time.monotonic()), or None outside one.
_render_deadline: ContextVar[float | None] = ContextVar("expression_render_deadline", default=None)


@contextmanager
def render_budget() -> Iterator[None]:
    """The time budget of a render; nested renders share the outermost one."""
    if _render_deadline.get() is not None:
        yield
        return
    token = _render_deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        yield
    finally:
        _render_deadline.reset(token)


def check_render() -> None:
    """Between the steps of a render: stop if the attempt was stopped or time is up."""
    check_interrupt()
    deadline = _render_deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise SecurityError(f"the expression ran longer than {MAX_RENDER_SECONDS:g} s and was stopped")


def exempt(seconds: float) -> None:
    """Time the render spent waiting for something with a limit of its own (jq)."""
    deadline = _render_deadline.get()
    if deadline is not None:
        _render_deadline.set(deadline + seconds)


class CheckedLoop:
    """What a ``{% for %}`` iterates: its items, with check_render() every few of them
    (a loop whose body prints nothing would otherwise never be checked)."""

    _EVERY = 64

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        for index, item in enumerate(self.items):
            if index % self._EVERY == 0:
                check_render()
            yield item


def check_output(size: int) -> None:
    if size > MAX_OUTPUT:
        raise SecurityError(f"the rendered text would exceed {MAX_OUTPUT} characters")


def check_size(size: int) -> None:
    if size > MAX_SIZE:
        raise SecurityError(f"the result would hold {size} characters or elements, more than the limit of {MAX_SIZE}")
