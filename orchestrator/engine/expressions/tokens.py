"""Tokens of one ``{{ }}`` / ``{% %}`` tag body, and where the tag ends.

The end of a tag is found the way Jinja's lexer finds it: outside string literals and only
when no bracket is open, so ``{{ {'a': {'b': 1}} }}`` and ``{{ "}}" }}`` are one tag each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from orchestrator.engine.expressions.errors import PebbleSyntaxError


class Kind(Enum):
    NAME = "name"
    NUMBER = "number"
    STRING = "string"
    OP = "operator"
    END = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    position: int  # offset in the whole template source, for error messages


@dataclass(frozen=True, slots=True)
class Tag:
    tokens: list[Token]  # always ends with an END token
    body_end: int  # offset where the closing delimiter (with its whitespace marker) starts
    end: int  # offset just after the closing delimiter
    trim_right: str  # "-", "+" or ""


_NAME = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
_OPERATORS = (
    "???", "??", "..", "==", "!=", "<=", ">=", "//", "**",
    "<", ">", "=", "+", "-", "*", "/", "%", "~", "|", "?", ":", ".", ",",
    "(", ")", "[", "]", "{", "}",
)  # fmt: skip
_OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = frozenset(_OPENING.values())


def scan_tag(source: str, start: int, closer: str) -> Tag:
    """Tokenise from ``start`` up to the tag's ``closer`` (``}}`` or ``%}``)."""
    tokens: list[Token] = []
    depth = 0
    i = start
    length = len(source)
    while i < length:
        char = source[i]
        if char.isspace():
            i += 1
            continue
        if depth == 0:
            marker = _closing_marker(source, i, closer)
            if marker is not None:
                tokens.append(Token(Kind.END, "", i))
                return Tag(tokens, i, i + len(marker) + len(closer), marker)
        token = _next_token(source, i)
        if token.text in _OPENING:
            depth += 1
        elif token.text in _CLOSING and depth > 0:
            depth -= 1
        tokens.append(token)
        i += len(token.text)
    opener = "{{" if closer == "}}" else "{%"
    raise PebbleSyntaxError(f"'{opener}' is never closed with '{closer}'", source, start - len(opener))


def _closing_marker(source: str, i: int, closer: str) -> str | None:
    if source.startswith(closer, i):
        return ""
    if source.startswith("-" + closer, i):
        return "-"
    if closer == "%}" and source.startswith("+%}", i):
        return "+"
    return None


def _next_token(source: str, i: int) -> Token:
    char = source[i]
    if char in "'\"":
        match = _STRING.match(source, i)
        if match is None:
            raise PebbleSyntaxError("string literal is never closed", source, i)
        return Token(Kind.STRING, match.group(), i)
    match = _NUMBER.match(source, i)
    if match is not None:
        return Token(Kind.NUMBER, match.group(), i)
    match = _NAME.match(source, i)
    if match is not None:
        return Token(Kind.NAME, match.group(), i)
    for operator in _OPERATORS:
        if source.startswith(operator, i):
            return Token(Kind.OP, operator, i)
    raise PebbleSyntaxError(f"unexpected character {char!r}", source, i)
