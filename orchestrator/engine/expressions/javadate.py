"""Java ``DateTimeFormatter`` patterns (``yyyy-MM-dd'T'HH:mm``) for Python datetimes.

Text fields are English, as with Kestra's default locale. Optional sections ``[...]`` are
always printed. Week fields (``w``, ``Y``) follow ISO weeks.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

Element = tuple[str, int] | str  # (pattern letter, count) or literal text

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_QUARTER_NAMES = ("1st quarter", "2nd quarter", "3rd quarter", "4th quarter")


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> tuple[Element, ...]:
    """Split a pattern into letter runs and literal text; raises ValueError on bad patterns."""
    elements: list[Element] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            text, i = _quoted(pattern, i)
            elements.append(text)
        elif "a" <= char.lower() <= "z":
            run = i
            while run < len(pattern) and pattern[run] == char:
                run += 1
            elements.append((char, run - i))
            i = run
        elif char in "#{}":
            raise ValueError(f"Pattern includes reserved character: '{char}'")
        else:
            if char not in "[]":
                elements.append(char)
            i += 1
    return tuple(elements)


def _quoted(pattern: str, start: int) -> tuple[str, int]:
    if pattern.startswith("''", start):
        return "'", start + 2
    text: list[str] = []
    i = start + 1
    while i < len(pattern):
        if pattern.startswith("''", i):
            text.append("'")
            i += 2
        elif pattern[i] == "'":
            return "".join(text), i + 1
        else:
            text.append(pattern[i])
            i += 1
    raise ValueError(f"Pattern ends without closing quote: {pattern!r}")


def format_pattern(value: dt.datetime, pattern: str) -> str:
    """Format an aware datetime with a Java pattern."""
    parts: list[str] = []
    for element in compile_pattern(pattern):
        if isinstance(element, str):
            parts.append(element)
        else:
            parts.append(_field(value, *element))
    return "".join(parts)


def _field(value: dt.datetime, letter: str, count: int) -> str:
    formatter = _FIELDS.get(letter)
    if formatter is None:
        raise ValueError(f"Unknown pattern letter: {letter}")
    return formatter(value, count)


def _number(number: int, count: int) -> str:
    return str(number).zfill(count)


def _year(number: int, count: int) -> str:
    return f"{number % 100:02d}" if count == 2 else _number(number, count)


def _text(name: str, count: int) -> str:
    if count == 4:
        return name
    return name[0] if count == 5 else name[:3]


def _month(value: dt.datetime, count: int) -> str:
    return _number(value.month, count) if count <= 2 else _text(_MONTHS[value.month - 1], count)


def _weekday(value: dt.datetime, count: int) -> str:
    return _text(_DAYS[value.weekday()], count)


def _local_weekday(value: dt.datetime, count: int) -> str:
    if count >= 3:
        return _weekday(value, count)
    return _number(value.isoweekday() % 7 + 1, count)  # Sunday is day 1, as in the US locale


def _quarter(value: dt.datetime, count: int) -> str:
    quarter = (value.month - 1) // 3 + 1
    if count <= 2:
        return _number(quarter, count)
    return f"Q{quarter}" if count == 3 else _QUARTER_NAMES[quarter - 1]


def _hour12(value: dt.datetime, count: int) -> str:
    return _number(value.hour % 12 or 12, count)


def _fraction(value: dt.datetime, count: int) -> str:
    return (f"{value.microsecond:06d}000")[:count].ljust(count, "0")


def offset_text(value: dt.datetime, colon: bool, zero: str | None, with_seconds: bool = False) -> str:
    offset = value.utcoffset() or dt.timedelta(0)
    seconds = int(offset.total_seconds())
    if seconds == 0 and zero is not None:
        return zero
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    separator = ":" if colon else ""
    text = f"{sign}{hours:02d}{separator}{minutes:02d}"
    if with_seconds and secs:
        text += f"{separator}{secs:02d}"
    return text


def _offset_x(value: dt.datetime, count: int, zero: str | None) -> str:
    if count == 1:
        text = offset_text(value, False, zero)
        return text[:3] if text != zero and text.endswith("00") else text
    return offset_text(value, count in (3, 5), zero, with_seconds=count >= 4)


def _offset_z(value: dt.datetime, count: int) -> str:
    if count <= 3:
        return offset_text(value, False, None)
    if count == 4:
        return _localized_offset(value, 4)
    return offset_text(value, True, "Z")


def _localized_offset(value: dt.datetime, count: int) -> str:
    offset = value.utcoffset() or dt.timedelta(0)
    if not offset:
        return "GMT"
    if count == 4:
        return "GMT" + offset_text(value, True, None)
    sign = "-" if offset < dt.timedelta(0) else "+"
    hours, rest = divmod(abs(int(offset.total_seconds())), 3600)
    return f"GMT{sign}{hours}" + (f":{rest // 60:02d}" if rest else "")


def zone_id(value: dt.datetime) -> str:
    key = getattr(value.tzinfo, "key", None)
    if key:
        return str(key)
    return offset_text(value, True, "Z")


def _zone_name(value: dt.datetime, count: int) -> str:
    return value.tzname() or zone_id(value)


_FIELDS = {
    "G": lambda v, n: "Anno Domini" if n == 4 else ("A" if n == 5 else "AD"),
    "y": lambda v, n: _year(v.year, n),
    "u": lambda v, n: _year(v.year, n),
    "Y": lambda v, n: _year(v.isocalendar()[0], n),
    "M": _month,
    "L": _month,
    "d": lambda v, n: _number(v.day, n),
    "D": lambda v, n: _number(v.timetuple().tm_yday, n),
    "Q": _quarter,
    "q": _quarter,
    "w": lambda v, n: _number(v.isocalendar()[1], n),
    "E": _weekday,
    "e": _local_weekday,
    "c": _local_weekday,
    "a": lambda v, n: "AM" if v.hour < 12 else "PM",
    "H": lambda v, n: _number(v.hour, n),
    "k": lambda v, n: _number(v.hour or 24, n),
    "K": lambda v, n: _number(v.hour % 12, n),
    "h": _hour12,
    "m": lambda v, n: _number(v.minute, n),
    "s": lambda v, n: _number(v.second, n),
    "S": _fraction,
    "n": lambda v, n: _number(v.microsecond * 1000, n),
    "A": lambda v, n: _number((v.hour * 3600 + v.minute * 60 + v.second) * 1000 + v.microsecond // 1000, n),
    "V": lambda v, n: zone_id(v),
    "z": _zone_name,
    "v": _zone_name,
    "O": _localized_offset,
    "X": lambda v, n: _offset_x(v, n, "Z"),
    "x": lambda v, n: _offset_x(v, n, None),
    "Z": _offset_z,
}

_STRPTIME = {
    ("y", 2): "%y", ("u", 2): "%y", ("M", 1): "%m", ("M", 2): "%m", ("M", 3): "%b", ("M", 4): "%B",
    ("d", 1): "%d", ("d", 2): "%d", ("H", 1): "%H", ("H", 2): "%H", ("h", 1): "%I", ("h", 2): "%I",
    ("m", 1): "%M", ("m", 2): "%M", ("s", 1): "%S", ("s", 2): "%S", ("a", 1): "%p",
    ("E", 1): "%a", ("E", 2): "%a", ("E", 3): "%a", ("E", 4): "%A", ("D", 3): "%j",
}  # fmt: skip


def parse_pattern(text: str, pattern: str) -> dt.datetime:
    """Parse text written with a Java pattern; the result is naive unless the pattern has a zone."""
    directives: list[str] = []
    for element in compile_pattern(pattern):
        if isinstance(element, str):
            directives.append(element.replace("%", "%%"))
        else:
            directives.append(_directive(*element))
    return dt.datetime.strptime(text, "".join(directives))


def _directive(letter: str, count: int) -> str:
    if letter in "yu":
        return "%y" if count == 2 else "%Y"
    if letter == "S":
        return "%f"
    if letter in "XxZ":
        return "%z"
    if letter in "zV":
        return "%Z"
    directive = _STRPTIME.get((letter, count))
    if directive is None:
        raise ValueError(f"Pattern letter '{letter * count}' cannot be used to parse a date")
    return directive
