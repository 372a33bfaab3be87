"""Kestra's date filters (``date``, ``dateAdd``, ``timestamp*``) and the ``now()`` function.

Inputs may be datetimes, dates, ISO-8601 strings (or strings in ``existingFormat``) and epoch
seconds. Without ``timeZone`` the zone is UTC, the zone Kestra servers run in.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Undefined

from orchestrator.engine.expressions.javadate import format_pattern, offset_text, parse_pattern, zone_id

UTC = dt.timezone.utc
_OFFSET = re.compile(r"^(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
_PATTERNS = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
}
_TIME_UNITS = {  # in microseconds, the resolution of Python datetimes
    "NANOS": 0.001,
    "MICROS": 1,
    "MILLIS": 1_000,
    "SECONDS": 1_000_000,
    "MINUTES": 60_000_000,
    "HOURS": 3_600_000_000,
    "HALF_DAYS": 43_200_000_000,
}
_DATE_UNITS = {"DAYS": 1, "WEEKS": 7}
_MONTH_UNITS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}


def zone(name: Any) -> dt.tzinfo:
    """A time zone from a Java ``ZoneId`` string: region (``Europe/Paris``), ``UTC``, ``Z``, ``+01:00``."""
    if name is None or name in ("Z", "UTC", "GMT", "UT"):
        return UTC
    if not isinstance(name, str):
        raise TypeError(f"timeZone must be a string, got {type(name).__name__}")
    match = _OFFSET.match(name.strip())
    if match:
        sign, hours, minutes = match.groups()
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        return dt.timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{name}'") from exc


def to_datetime(value: Any, tz: dt.tzinfo, existing_format: str | None = None) -> dt.datetime:
    """An aware datetime for a date-like input; naive inputs are read in ``tz``."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), tz)
    elif isinstance(value, str):
        moment, tz = _parse(value.strip(), tz, existing_format)
    else:
        raise TypeError(f"cannot read a date from a value of type {type(value).__name__}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _parse(text: str, tz: dt.tzinfo, existing_format: str | None) -> tuple[dt.datetime, dt.tzinfo]:
    if text.endswith("]") and "[" in text:  # Java's zoned form: 2024-01-02T03:04:05+01:00[Europe/Paris]
        text, region = text[:-1].split("[", 1)
        tz = zone(region)
    if existing_format and existing_format not in _NAMED and existing_format not in _PATTERNS:
        return parse_pattern(text, existing_format), tz
    return dt.datetime.fromisoformat(text), tz


def format_date(moment: dt.datetime, format: str) -> str:
    """Format with a named Kestra format (``iso``, ``sql``, ``iso_instant``...) or a Java pattern."""
    named = _NAMED.get(format)
    if named is not None:
        return named(moment)
    return format_pattern(moment, _PATTERNS.get(format, format))


def date_filter(
    value: Any, format: str = "iso", timeZone: Any = None, existingFormat: str | None = None, locale: Any = None
) -> str | None:
    if value is None:
        return None
    tz = zone(timeZone)
    return format_date(to_datetime(value, tz, existingFormat).astimezone(tz), format)


def date_add_filter(
    value: Any,
    amount: Any,
    unit: str,
    format: str = "iso",
    timeZone: Any = None,
    existingFormat: str | None = None,
    locale: Any = None,
) -> str | None:
    if value is None:
        return None
    tz = zone(timeZone)
    moment = add(to_datetime(value, tz, existingFormat).astimezone(tz), int(amount), str(unit).upper())
    return format_date(moment, format)


def add(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """Java's ``ZonedDateTime.plus``: time units move the instant, date units the calendar."""
    if unit in _TIME_UNITS:
        delta = dt.timedelta(microseconds=_TIME_UNITS[unit] * amount)
        return (moment.astimezone(UTC) + delta).astimezone(moment.tzinfo)
    if unit in _DATE_UNITS:
        return moment + dt.timedelta(days=_DATE_UNITS[unit] * amount)
    if unit in _MONTH_UNITS:
        return _add_months(moment, _MONTH_UNITS[unit] * amount)
    raise ValueError(f"unknown unit '{unit}', expected one of {', '.join([*_TIME_UNITS, *_DATE_UNITS, *_MONTH_UNITS])}")


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    year, month = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _epoch(value: Any, timeZone: Any, existingFormat: str | None) -> dt.timedelta:
    moment = to_datetime(value, zone(timeZone), existingFormat)
    return moment - dt.datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_filter(value: Any, timeZone: Any = None, existingFormat: str | None = None) -> int | None:
    if value is None:
        return None
    return int(_epoch(value, timeZone, existingFormat).total_seconds())


def timestamp_milli_filter(value: Any, timeZone: Any = None, existingFormat: str | None = None) -> int | None:
    if value is None:
        return None
    return _epoch(value, timeZone, existingFormat) // dt.timedelta(milliseconds=1)


def timestamp_micro_filter(value: Any, timeZone: Any = None, existingFormat: str | None = None) -> int | None:
    if value is None:
        return None
    return _epoch(value, timeZone, existingFormat) // dt.timedelta(microseconds=1)


def timestamp_nano_filter(value: Any, timeZone: Any = None, existingFormat: str | None = None) -> int | None:
    if value is None:
        return None
    return (_epoch(value, timeZone, existingFormat) // dt.timedelta(microseconds=1)) * 1000


def now(timeZone: Any = None, format: str | None = None) -> dt.datetime | str:
    """The current time as an aware datetime (UTC unless ``timeZone``), or formatted if ``format``."""
    moment = dt.datetime.now(zone(timeZone))
    return format_date(moment, format) if format else moment


# --- Java's predefined formatters -----------------------------------------------------
def _offset(moment: dt.datetime) -> str:
    return offset_text(moment, True, "Z")


def _fraction(moment: dt.datetime, grouped: bool) -> str:
    if not moment.microsecond:
        return ""
    digits = f"{moment.microsecond:06d}"
    if grouped:
        return "." + (digits[:3] if digits.endswith("000") else digits)
    return "." + digits.rstrip("0")


def _local_time(moment: dt.datetime) -> str:
    return moment.strftime("%H:%M:%S") + _fraction(moment, grouped=False)


def _local_date_time(moment: dt.datetime) -> str:
    return moment.date().isoformat() + "T" + _local_time(moment)


def _zoned(moment: dt.datetime) -> str:
    key = getattr(moment.tzinfo, "key", None)
    return _local_date_time(moment) + _offset(moment) + (f"[{zone_id(moment)}]" if key else "")


def _instant(moment: dt.datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.date().isoformat() + "T" + utc.strftime("%H:%M:%S") + _fraction(utc, grouped=True) + "Z"


def _rfc_1123(moment: dt.datetime) -> str:
    offset = offset_text(moment, False, "GMT")
    return format_pattern(moment, "EEE, d MMM yyyy HH:mm:ss ") + offset


_NAMED: dict[str, Callable[[dt.datetime], str]] = {
    "iso_date_time": _zoned,
    "iso_zoned_date_time": _zoned,
    "iso_offset_date_time": lambda m: _local_date_time(m) + _offset(m),
    "iso_date": lambda m: m.date().isoformat() + _offset(m),
    "iso_time": lambda m: _local_time(m) + _offset(m),
    "iso_offset_time": lambda m: _local_time(m) + _offset(m),
    "iso_local_date": lambda m: m.date().isoformat(),
    "iso_local_time": _local_time,
    "iso_local_date_time": _local_date_time,
    "iso_instant": _instant,
    "iso_ordinal_date": lambda m: format_pattern(m, "yyyy-DDD") + _offset(m),
    "iso_week_date": lambda m: format_pattern(m, "YYYY-'W'ww-") + str(m.isoweekday()) + _offset(m),
    "rfc_1123_date_time": _rfc_1123,
    "full": lambda m: format_pattern(m, "EEEE, MMMM d, yyyy 'at' h:mm:ss a ") + (m.tzname() or zone_id(m)),
    "long": lambda m: format_pattern(m, "MMMM d, yyyy 'at' h:mm:ss a z"),
    "medium": lambda m: format_pattern(m, "MMM d, yyyy, h:mm:ss a"),
    "short": lambda m: format_pattern(m, "M/d/yy, h:mm a"),
}
