"""Strict but chainable undefined values that remember the path the template asked for."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, UndefinedError
from jinja2.utils import missing

# Attributes Jinja and the sandbox probe with getattr(); answering them with another
# Undefined would make the probe itself raise with a misleading path.
_PROBED_ATTRIBUTES = frozenset({"unsafe_callable", "alters_data", "jinja_pass_arg"})


class ChainedUndefined(StrictUndefined):
    """A missing value: attribute and item access chain, everything else raises.

    Rendering, iterating, comparing, arithmetic and ``bool()`` raise ``UndefinedError``
    naming the full path (``variable 'outputs.t.value' is undefined``). Only the
    ``defined``/``null``/``empty`` tests, ``default``, ``??`` and ``???`` look at it safely.
    """

    __slots__ = ("_undefined_path",)

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[Exception] = UndefinedError,
        path: str | None = None,
    ) -> None:
        super().__init__(hint=hint, obj=obj, name=name, exc=exc)  # type: ignore[arg-type]
        self._undefined_path = path if path is not None else _name_text(name)

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        return f"variable '{self._undefined_path}' is undefined"

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" or name in _PROBED_ATTRIBUTES:
            raise AttributeError(name)
        return self._chain(f"{self._undefined_path}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return self._chain(f"{self._undefined_path}[{key!r}]")

    def _chain(self, path: str) -> ChainedUndefined:
        if self._undefined_hint:
            return self  # a security refusal stays a security refusal
        return ChainedUndefined(path=path)

    def with_path(self, path: str) -> ChainedUndefined:
        """The same undefined, re-labelled with the path as written in the template."""
        if self._undefined_hint or self._undefined_exception is not UndefinedError:
            return self
        return ChainedUndefined(path=path)

    def __repr__(self) -> str:
        return f"Undefined({self._undefined_path})"


def _name_text(name: Any) -> str:
    return name if isinstance(name, str) else repr(name)
