"""Send outputs and metrics from a script to its Choreo task run.

    import choreo
    choreo.outputs({"rows": 42})       # -> {{ outputs.<task>.vars.rows }}
    choreo.counter("rows", 42)
    choreo.timer("load", 1.5)          # seconds, or a callable to time

Each call prints one ``::{...}::`` line on stdout, which the task reads instead of logging.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Kestra", "counter", "outputs", "timer"]


def _send(message: Mapping[str, Any]) -> None:
    # Flushed at once: a line still buffered when the process is killed is lost.
    sys.stdout.write("::" + json.dumps(message, default=str) + "::\n")
    sys.stdout.flush()


def _metric(name: str, kind: str, value: float, tags: Mapping[str, Any] | None) -> None:
    _send({"metrics": [{"name": name, "type": kind, "value": value, "tags": dict(tags or {})}]})


def outputs(values: Mapping[str, Any]) -> None:
    """Merge ``values`` into the task's ``vars`` output."""
    _send({"outputs": dict(values)})


def counter(name: str, value: float, tags: Mapping[str, Any] | None = None) -> None:
    """Add ``value`` to the counter metric ``name``."""
    _metric(name, "counter", value, tags)


def timer(name: str, duration: float | Callable[[], Any], tags: Mapping[str, Any] | None = None) -> None:
    """Record ``duration`` seconds, or call ``duration`` and record how long it took."""
    if callable(duration):
        start = time.perf_counter()
        duration()
        duration = time.perf_counter() - start
    _metric(name, "timer", duration, tags)


class Kestra:
    """Kestra's script helper API (``from kestra import Kestra``)."""

    outputs = staticmethod(outputs)
    counter = staticmethod(counter)
    timer = staticmethod(timer)
