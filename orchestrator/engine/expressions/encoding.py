"""Filters and functions that encode, decode, hash and query: JSON, jq, base64, URLs, digests."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Undefined

from orchestrator.engine.expressions.display import to_display, to_json
from orchestrator.engine.expressions.filters import null_safe
from orchestrator.engine.expressions.jqpool import run_jq


def json_encode(value: Any) -> str:
    """``toJson`` / ``json``: any value as compact JSON (a string becomes a quoted JSON string)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return to_json(value)


def json_decode(value: Any) -> Any:
    """``fromJson``: parse a JSON string; null stays null, already-parsed values pass through."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, (str, bytes)):
        return json.loads(value)
    return value


def jq_filter(value: Any, expression: str) -> list[Any] | None:
    """Kestra's ``jq``: every result of the jq program, as a list (strings are parsed as JSON)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return None
    text = value if isinstance(value, str) else to_json(value)
    return run_jq(str(expression), text)


@null_safe
def base64_encode(value: Any) -> str:
    data = value if isinstance(value, bytes) else to_display(value).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


@null_safe
def base64_decode(value: Any) -> str:
    return base64.b64decode(to_display(value), validate=True).decode("utf-8")


@null_safe
def url_encode(value: Any) -> str:
    """Pebble's ``urlencode`` (form encoding of a string); a map becomes a query string."""
    if isinstance(value, Mapping):
        return urllib.parse.urlencode({to_display(k): to_display(v) for k, v in value.items()})
    return urllib.parse.quote_plus(to_display(value))


@null_safe
def url_decode(value: Any) -> str:
    return urllib.parse.unquote_plus(to_display(value))


def _digest(algorithm: str) -> Callable[[Any], str | None]:
    @null_safe
    def digest(value: Any) -> str:
        data = value if isinstance(value, bytes) else to_display(value).encode("utf-8")
        return hashlib.new(algorithm, data).hexdigest()

    digest.__name__ = algorithm
    return digest


md5 = _digest("md5")
sha1 = _digest("sha1")
sha256 = _digest("sha256")
sha512 = _digest("sha512")


@null_safe
def slugify(value: Any) -> str:
    """Lower-case ASCII words joined by dashes: ``"Hello, Wörld!"`` → ``hello-world``."""
    text = unicodedata.normalize("NFKD", to_display(value)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
