"""Translate a Pebble template into the Jinja template that renders it.

Text outside tags is copied as-is. Each ``{{ }}`` body is re-emitted through the expression
parser; ``{% if/elseif/elif/for/set %}`` get their expressions translated; ``{% raw %}`` and
Pebble's ``{% verbatim %}`` bodies are copied untouched; comments ``{# #}`` and every other tag
pass through for Jinja to judge. Newlines inside tags are kept so Jinja's line numbers match
the original source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.engine.expressions.errors import PebbleSyntaxError
from orchestrator.engine.expressions.parser import ExpressionParser, parse_expression
from orchestrator.engine.expressions.tokens import Kind, Tag, scan_tag

_OPENER = re.compile(r"\{[{%#]")
_RAW_END = {
    "raw": re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}"),
    "verbatim": re.compile(r"\{%[-+]?\s*endverbatim\s*[-+]?%\}"),
}


@dataclass(frozen=True, slots=True)
class Translation:
    jinja: str  # the Jinja template source
    expression: str | None  # the Jinja expression when the template is exactly one {{ }}


def translate(source: str) -> Translation:
    """Translate ``source``; raises ``PebbleSyntaxError`` pointing at the offending spot."""
    parts: list[str] = []
    expressions: list[str] = []
    has_other = False
    position = 0
    while True:
        match = _OPENER.search(source, position)
        if match is None:
            parts.append(source[position:])
            has_other = has_other or bool(source[position:].strip())
            break
        parts.append(source[position : match.start()])
        has_other = has_other or bool(source[position : match.start()].strip())
        opener = match.group()
        if opener == "{#":
            position = _copy_comment(source, match.start(), parts)
        elif opener == "{{":
            position = _copy_print(source, match.start(), parts, expressions)
        else:
            position = _copy_statement(source, match.start(), parts)
        has_other = has_other or opener != "{{"
    single = expressions[0] if len(expressions) == 1 and not has_other else None
    return Translation("".join(parts), single)


def _copy_comment(source: str, start: int, parts: list[str]) -> int:
    end = source.find("#}", start + 2)
    if end < 0:
        raise PebbleSyntaxError("'{#' is never closed with '#}'", source, start)
    parts.append(source[start : end + 2])
    return end + 2


def _copy_print(source: str, start: int, parts: list[str], expressions: list[str]) -> int:
    left, body_start = _left_marker(source, start + 2, "-")
    tag = scan_tag(source, body_start, "}}")
    expression = parse_expression(tag.tokens, source)
    expressions.append(expression)
    parts.append(f"{{{{{left} {expression}{_newlines(source, start, tag)} {tag.trim_right}}}}}")
    return tag.end


def _copy_statement(source: str, start: int, parts: list[str]) -> int:
    left, body_start = _left_marker(source, start + 2, "-+")
    tag = scan_tag(source, body_start, "%}")
    first = tag.tokens[0]
    if first.kind is Kind.END:
        raise PebbleSyntaxError("empty '{% %}' tag", source, start)
    if first.kind is Kind.NAME and first.text in _RAW_END and tag.tokens[1].kind is Kind.END:
        return _copy_raw(source, start, tag, first.text, left, parts)
    body = _statement(first.text, ExpressionParser(tag.tokens, source))
    if body is None:
        parts.append(source[start : tag.end])
    else:
        parts.append(f"{{%{left} {body}{_newlines(source, start, tag)} {tag.trim_right}%}}")
    return tag.end


def _statement(name: str, parser: ExpressionParser) -> str | None:
    """The translated body of a statement tag, or None to pass the tag through unchanged."""
    if name in ("if", "elif", "elseif"):
        parser.advance()
        condition = parser.expression()
        parser.expect_end()
        return f"{'if' if name == 'if' else 'elif'} ({condition})|_pebble_truthy"
    if name == "for":
        return _for_statement(parser)
    if name == "set" and _is_assignment(parser):
        return _set_statement(parser)
    return None


def _for_statement(parser: ExpressionParser) -> str:
    parser.advance()
    targets = _targets(parser)
    if not parser.at_name("in"):
        parser.fail("expected 'in'")
    parser.advance()
    iterable = parser.tuple_or_expression(conditional=False)
    as_entries = "true" if len(targets) == 1 else "false"
    body = f"for {', '.join(targets)} in ({iterable})|_pebble_loop({as_entries})"
    if parser.at_name("if"):
        parser.advance()
        body += f" if ({parser.expression(conditional=False)})|_pebble_truthy"
    if parser.at_name("recursive"):
        parser.advance()
        body += " recursive"
    parser.expect_end()
    return body


def _set_statement(parser: ExpressionParser) -> str:
    parser.advance()
    targets = _targets(parser)
    parser.expect_op("=")
    value = parser.tuple_or_expression()
    parser.expect_end()
    return f"set {', '.join(targets)} = {value}"


def _targets(parser: ExpressionParser) -> list[str]:
    targets = [parser.expect_name().text]
    while parser.at_op(","):
        parser.advance()
        targets.append(parser.expect_name().text)
    return targets


def _is_assignment(parser: ExpressionParser) -> bool:
    """``{% set x = ... %}`` rather than Jinja's block form ``{% set x %}...{% endset %}``."""
    return any(token.kind is Kind.OP and token.text == "=" for token in parser.tokens)


def _copy_raw(source: str, start: int, tag: Tag, name: str, left: str, parts: list[str]) -> int:
    closing = _RAW_END[name].search(source, tag.end)
    if closing is None:
        raise PebbleSyntaxError(f"'{{% {name} %}}' is never closed with '{{% end{name} %}}'", source, start)
    end_marks = closing.group()
    right_of_end = "-" if end_marks.endswith("-%}") else ""
    left_of_end = "-" if end_marks.startswith("{%-") else ""
    parts.append(f"{{%{left} raw {tag.trim_right}%}}")
    parts.append(source[tag.end : closing.start()])
    parts.append(f"{{%{left_of_end} endraw {right_of_end}%}}")
    return closing.end()


def _left_marker(source: str, position: int, allowed: str) -> tuple[str, int]:
    if position < len(source) and source[position] in allowed:
        return source[position], position + 1
    return "", position


def _newlines(source: str, start: int, tag: Tag) -> str:
    return "\n" * source.count("\n", start, tag.body_end)
