"""JSON for the store's columns: orjson, several times faster than the standard library on
the small documents the engine writes on every change (task run outputs, attempts, journal
payloads), with the standard library's output kept where the two differ in substance.

- Dates and dataclasses go through ``str`` as before (``default=str``), not orjson's own
  formats, so stored text keeps its shape.
- An integer beyond 64 bits falls back to the standard library (orjson refuses it).
- NaN and infinities become ``null`` (the standard library writes invalid JSON).
"""
from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, default=str)


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
