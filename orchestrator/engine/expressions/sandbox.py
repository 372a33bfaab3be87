"""The sandboxed Jinja environment class: what templates may touch and how big things may get.

On top of Jinja's immutable sandbox (no ``_private`` attributes, no mutation of lists and
dicts) methods of built-in values are allow-listed, ``str.format`` and ``%`` formatting are
refused (their padding widths allocate at will), and ``*``, ``**`` and ``+`` are size-capped.
"""

from __future__ import annotations

import math
import operator
import types
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orchestrator.engine.expressions.limits import MAX_POWER_BITS, check_size

_STRING_METHODS = frozenset(
    {
        "capitalize", "casefold", "count", "endswith", "find", "isalnum", "isalpha", "isdecimal",
        "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "lower",
        "lstrip", "partition", "removeprefix", "removesuffix", "rfind", "rpartition", "rsplit",
        "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
    }
)  # fmt: skip
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
_SEQUENCE_METHODS = frozenset({"count", "index"})
_NUMBER_TYPES = (int, float, complex, Decimal)


class PebbleSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, (str, bytes)):
            return attr in _STRING_METHODS
        if isinstance(obj, Mapping):
            return attr in _MAPPING_METHODS
        if isinstance(obj, (list, tuple)):
            return attr in _SEQUENCE_METHODS
        if isinstance(obj, (set, frozenset, *_NUMBER_TYPES)):
            return not callable(value)  # e.g. (10).to_bytes(10**9) would allocate a gigabyte
        return True

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Pebble reads map.key before any method of the map; this is also the hot path.
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if (
            isinstance(value, (types.MethodType, types.BuiltinMethodType))
            and value.__name__ in ("format", "format_map")
            and isinstance(value.__self__, str)
        ):
            return _refuse_format
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, (str, bytes)):
            raise SecurityError("string formatting with '%' is not allowed")
        if operator == "**":
            _check_power(left, right)
        if operator == "*":
            _check_repeat(left, right)
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            check_size(len(left) + len(right))
        return _BINOPS[operator](left, right)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "+": operator.add,
}


def _refuse_format(*args: Any, **kwargs: Any) -> str:
    raise SecurityError("str.format() is not allowed in expressions")


def _check_repeat(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        # x * x twelve times over would build an integer of hundreds of millions of bits.
        if left.bit_length() + right.bit_length() > MAX_POWER_BITS:
            raise SecurityError(f"the product would exceed {MAX_POWER_BITS} bits")
        return
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(count, int):
            check_size(len(sequence) * max(count, 0))


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        if exponent * math.log2(abs(base)) > MAX_POWER_BITS:
            raise SecurityError(f"the power would exceed {MAX_POWER_BITS} bits")
