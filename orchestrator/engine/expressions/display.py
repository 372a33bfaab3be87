"""How values render as text and as JSON."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from jinja2 import Undefined

from orchestrator.engine.expressions.mapentry import MapEntry


def to_display(value: Any) -> str:
    """The text a value renders as inside ``{{ }}``.

    Strings as-is; ``None`` → ``""``; booleans → ``true``/``false``; maps and lists → compact
    JSON; datetimes → ISO-8601 with milliseconds (``Z`` for UTC, naive taken as UTC);
    dates → ``yyyy-MM-dd``; floats like Java (``1.0``, no exponent for ordinary magnitudes).
    An undefined value raises.
    """
    if isinstance(value, str):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return to_json(value)
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, MapEntry):
        return f"{to_display(value.key)}={to_display(value.value)}"
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Iterator):
        return to_json(list(value))
    return str(value)


def to_json(value: Any) -> str:
    """Compact JSON (``{"a":1}``), non-ASCII kept, dates as ISO strings."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    # Python switches to exponent notation at 1e16; Kestra users expect plain digits there.
    if "e" in text and 1e-7 <= abs(value) < 1e21:
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


def datetime_text(value: dt.datetime) -> str:
    offset = value.utcoffset()
    text = value.replace(tzinfo=None).isoformat(timespec="milliseconds")
    if offset is None or offset == dt.timedelta(0):
        return text + "Z"
    return text + value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:5]


def _json_default(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, MapEntry):
        return {"key": value.key, "value": value.value}
    if isinstance(value, Iterator):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
