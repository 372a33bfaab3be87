"""The configured sandbox: which filters, tests and globals Kestra templates get."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.engine.expressions import dates, encoding, filters
from orchestrator.engine.expressions.functions import FUNCTIONS
from orchestrator.engine.expressions.display import finalize
from orchestrator.engine.expressions.operators import OPERATOR_FILTERS
from orchestrator.engine.expressions.predicates import TESTS
from orchestrator.engine.expressions.sandbox import PebbleSandbox
from orchestrator.engine.expressions.undefined import ChainedUndefined

# Jinja globals that are either useless here or a foothold (namespace() is mutable state).
_REMOVED_GLOBALS = ("cycler", "joiner", "namespace", "lipsum")
# Jinja filters whose arguments size an allocation (center(10**9)) or that Pebble defines
# differently under the same name are replaced or dropped.
_REMOVED_FILTERS = ("center", "format", "batch", "wordwrap", "xmlattr")

FILTERS: dict[str, Callable[..., Any]] = {
    "abbreviate": filters.abbreviate,
    "base64decode": encoding.base64_decode,
    "base64encode": encoding.base64_encode,
    "capitalize": filters.capitalize,
    "chunk": filters.chunk,
    "count": filters.length,
    "d": filters.default,
    "date": dates.date_filter,
    "dateAdd": dates.date_add_filter,
    "default": filters.default,
    "distinct": filters.distinct,
    "endsWith": filters.ends_with,
    "escapeChar": filters.escape_char,
    "first": filters.first,
    "flatten": filters.flatten,
    "fromJson": encoding.json_decode,
    "indent": filters.indent,
    "jq": encoding.jq_filter,
    "join": filters.join,
    "json": encoding.json_encode,
    "jsonDecode": encoding.json_decode,
    "jsonEncode": encoding.json_encode,
    "keys": filters.keys,
    "last": filters.last,
    "length": filters.length,
    "lower": filters.lower,
    "md5": encoding.md5,
    "merge": filters.merge,
    "nindent": filters.nindent,
    "number": filters.number,
    "replace": filters.replace,
    "reverse": filters.reverse,
    "rsort": filters.rsort,
    "sha1": encoding.sha1,
    "sha256": encoding.sha256,
    "sha512": encoding.sha512,
    "slice": filters.slice_filter,
    "slugify": encoding.slugify,
    "split": filters.split,
    "startsWith": filters.starts_with,
    "string": filters.string,
    "substringAfter": filters.substring_after,
    "substringAfterLast": filters.substring_after_last,
    "substringBefore": filters.substring_before,
    "substringBeforeLast": filters.substring_before_last,
    "timestamp": dates.timestamp_filter,
    "timestampMicro": dates.timestamp_micro_filter,
    "timestampMilli": dates.timestamp_milli_filter,
    "timestampNano": dates.timestamp_nano_filter,
    "title": filters.title,
    "toJson": encoding.json_encode,
    "trim": filters.trim,
    "upper": filters.upper,
    "urldecode": encoding.url_decode,
    "urlencode": encoding.url_encode,
    "values": filters.values,
}


def build_environment(extra_globals: Mapping[str, Callable[..., Any]]) -> PebbleSandbox:
    environment = PebbleSandbox(
        autoescape=False,
        undefined=ChainedUndefined,
        finalize=finalize,
        keep_trailing_newline=True,
        # Jinja's optimizer calls filters whose arguments are constants while it compiles:
        # outside every limit of a render (jq, the stop of an attempt) and even when a
        # flow is only validated.
        optimized=False,
    )
    for name in _REMOVED_GLOBALS:
        environment.globals.pop(name, None)
    for name in _REMOVED_FILTERS:
        environment.filters.pop(name, None)
    environment.filters.update(FILTERS)
    environment.filters.update(OPERATOR_FILTERS)
    environment.tests.update(TESTS)
    environment.globals.update(FUNCTIONS)
    environment.globals.update(extra_globals)
    return environment
