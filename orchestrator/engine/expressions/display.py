"""How values render as text and as JSON."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from orchestrator.engine.expressions.limits import MAX_SIZE, check_output, check_size
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
    """Compact JSON (``{"a":1}``), non-ASCII kept, dates as ISO strings.

    Refused when it would hold more than MAX_SIZE characters, before it is built: values
    that share parts (YAML aliases, a list repeated) print each part every time, so a
    small value in memory can be an enormous text."""
    _check_json_size(value)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    check_size(len(text))  # escapes (\u0000...) make the text longer than the walk counts
    return text


def _check_json_size(value: Any) -> None:
    """Walk the value counting at least the characters its JSON has; stop past MAX_SIZE."""
    size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, Mapping):
            size += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            size += 2 + len(item)
            stack.extend(item)
        else:
            size += 1
        if size > MAX_SIZE:
            check_size(size)


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
