"""What a Pebble ``{% for entry in map %}`` loop variable is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MapEntry:
    """One key/value pair of a map being looped over, read as ``entry.key`` / ``entry.value``."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MapEntry) and (self.key, self.value) == (other.key, other.value)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"MapEntry({self.key!r}, {self.value!r})"


def entries(value: Mapping[Any, Any]) -> list[MapEntry]:
    return [MapEntry(key, item) for key, item in value.items()]
