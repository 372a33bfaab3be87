"""Parse a Pebble expression and emit the equivalent, fully parenthesised Jinja expression.

Precedences are Pebble's (``or`` 10, ``and`` 15, ``is``/``contains`` 20, comparisons 30,
``+ -`` 40, ``* / %`` 60, filters 100, ``~`` 110, ``..``/``??``/``???`` 120, unary 500, then
the lowest-precedence ternary ``c ? a : b``), so ``'a' ~ b | upper`` upper-cases the whole
concatenation as Kestra does. Jinja-only syntax that Pebble lacks (``a if c else b``, ``in``,
slices, tuples, ``**``, ``//``) is accepted too. Pebble semantics Jinja has no operator for are
emitted as calls to the ``_pebble_*`` helper filters registered in ``operators.py``.
"""

from __future__ import annotations

from typing import NoReturn

from orchestrator.engine.expressions.errors import PebbleSyntaxError
from orchestrator.engine.expressions.tokens import Kind, Token

UNARY_PRECEDENCE = 500
BINARY_PRECEDENCE = {
    "or": 10, "and": 15, "is": 20, "contains": 20,
    "in": 30, "not in": 30, "==": 30, "equals": 30, "!=": 30, "<": 30, ">": 30, "<=": 30, ">=": 30,
    "+": 40, "-": 40, "*": 60, "/": 60, "//": 60, "%": 60, "**": 70,
    "|": 100, "~": 110, "..": 120, "??": 120, "???": 120,
}  # fmt: skip
KEYWORDS = frozenset({"and", "or", "not", "is", "in", "if", "else", "contains", "equals", "recursive"})
LITERALS = {
    "true": "true", "True": "true", "TRUE": "true",
    "false": "false", "False": "false", "FALSE": "false",
    "null": "none", "NULL": "none", "none": "none", "None": "none", "NONE": "none",
}  # fmt: skip
_PLAIN_OPERATORS = frozenset({"in", "not in", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "//", "%", "**"})
# Pebble's loop indexes are zero-based; Jinja's zero-based ones carry a 0 suffix.
_LOOP_ATTRIBUTES = {"index": "index0", "revindex": "revindex0"}


class ExpressionParser:
    """A recursive-descent parser over the tokens of one tag body."""

    def __init__(self, tokens: list[Token], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.index = 0

    # --- token stream ------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def at_op(self, text: str) -> bool:
        return self.current.kind is Kind.OP and self.current.text == text

    def at_name(self, text: str) -> bool:
        return self.current.kind is Kind.NAME and self.current.text == text

    def expect_op(self, text: str) -> Token:
        if not self.at_op(text):
            self.fail(f"expected '{text}'")
        return self.advance()

    def expect_name(self) -> Token:
        if self.current.kind is not Kind.NAME:
            self.fail("expected a name")
        return self.advance()

    def expect_end(self) -> None:
        if self.current.kind is not Kind.END:
            self.fail("expected the end of the expression")

    def fail(self, message: str) -> NoReturn:
        token = self.current
        found = "the end of the expression" if token.kind is Kind.END else f"'{token.text}'"
        raise PebbleSyntaxError(f"{message}, found {found}", self.source, token.position)

    # --- expressions -------------------------------------------------------------
    def expression(self, conditional: bool = True) -> str:
        """A full expression: binary operators, then an optional ternary."""
        left = self.binary(0)
        if self.at_op("?"):
            self.advance()
            then = self.expression()
            self.expect_op(":")
            otherwise = self.expression()
            return f"(({then}) if (({left})|_pebble_truthy) else ({otherwise}))"
        if conditional and self.at_name("if"):
            self.advance()
            test = self.binary(0)
            otherwise = "none"
            if self.at_name("else"):
                self.advance()
                otherwise = self.expression()
            return f"(({left}) if (({test})|_pebble_truthy) else ({otherwise}))"
        return left

    def tuple_or_expression(self, conditional: bool = True) -> str:
        """``a`` or Jinja's bare tuple ``a, b`` (``{% set a, b = 1, 2 %}``)."""
        items = [self.expression(conditional)]
        if not self.at_op(","):
            return items[0]
        while self.at_op(","):
            self.advance()
            if self.current.kind is Kind.END:
                break
            items.append(self.expression(conditional))
        return "(" + ", ".join(items) + ",)"

    def binary(self, min_precedence: int) -> str:
        left = self.unary()
        while True:
            operator = self.binary_operator()
            if operator is None or BINARY_PRECEDENCE[operator] < min_precedence:
                return left
            self.advance()
            if operator == "not in":
                self.advance()
            if operator == "|":
                left = self.filter_call(left)
            elif operator == "is":
                left = self.test_call(left)
            else:
                right = self.binary(BINARY_PRECEDENCE[operator] + 1)
                left = combine(operator, left, right)

    def binary_operator(self) -> str | None:
        token = self.current
        if token.kind is Kind.OP and token.text in BINARY_PRECEDENCE:
            return token.text
        if token.kind is not Kind.NAME:
            return None
        if token.text == "not":
            following = self.peek()
            return "not in" if following.kind is Kind.NAME and following.text == "in" else None
        if token.text in BINARY_PRECEDENCE:
            return token.text
        return None

    def unary(self) -> str:
        if self.at_name("not"):
            self.advance()
            operand = self.binary(UNARY_PRECEDENCE)
            return f"(not (({operand})|_pebble_truthy))"
        if self.at_op("-") or self.at_op("+"):
            sign = self.advance().text
            operand = self.binary(UNARY_PRECEDENCE)
            return f"({sign}({operand}))"
        return self.postfix()

    # --- filters and tests ---------------------------------------------------------
    def filter_call(self, left: str) -> str:
        name = self.expect_name().text
        arguments = self.arguments() if self.at_op("(") else ""
        return f"(({left})|{name}({arguments}))"

    def test_call(self, left: str) -> str:
        negated = ""
        if self.at_name("not"):
            self.advance()
            negated = "not "
        name = self.expect_name().text
        if self.at_op("("):
            arguments = self.arguments()
        elif self.starts_bare_test_argument():
            arguments = self.postfix()
        else:
            arguments = ""
        return f"(({left}) is {negated}{name}({arguments}))"

    def starts_bare_test_argument(self) -> bool:
        """Jinja's ``x is divisibleby 3`` / ``x is sameas false`` form."""
        token = self.current
        if token.kind in (Kind.NUMBER, Kind.STRING):
            return True
        if token.kind is Kind.NAME:
            return token.text not in KEYWORDS
        return token.kind is Kind.OP and token.text in ("[", "{")

    def arguments(self) -> str:
        self.expect_op("(")
        parts: list[str] = []
        while not self.at_op(")"):
            if parts:
                self.expect_op(",")
                if self.at_op(")"):
                    break
            if self.current.kind is Kind.NAME and self.peek().kind is Kind.OP and self.peek().text == "=":
                name = self.advance().text
                self.advance()
                parts.append(f"{name}=({self.expression()})")
            else:
                parts.append(f"({self.expression()})")
        self.expect_op(")")
        return ", ".join(parts)

    # --- primaries and their postfix chains -----------------------------------------
    def postfix(self) -> str:
        start = self.index
        root = self.current
        node = self.primary()
        named = root.kind is Kind.NAME and root.text not in LITERALS
        lookups = False  # attribute/item accesses since the root or the last call
        while True:
            if self.at_op("."):
                self.advance()
                node += self.attribute(root if self.index - start == 2 else None)
                lookups = True
            elif self.at_op("["):
                self.advance()
                node += f"[{self.subscript()}]"
                self.expect_op("]")
                lookups = True
            elif self.at_op("("):
                if named and lookups:
                    node = f"({node}|_pebble_path({self.path_text(start)!r}))"
                node += f"({self.arguments()})"
                lookups = False
            else:
                break
        if named and lookups:
            node = f"({node}|_pebble_path({self.path_text(start)!r}))"
        return node

    def attribute(self, loop_root: Token | None) -> str:
        token = self.current
        if token.kind is Kind.NUMBER and token.text.isdigit():
            self.advance()
            return f"[{token.text}]"
        name = self.expect_name().text
        if loop_root is not None and loop_root.text == "loop":
            name = _LOOP_ATTRIBUTES.get(name, name)
        return f".{name}"

    def subscript(self) -> str:
        start = "" if self.at_op(":") else self.expression()
        if not self.at_op(":"):
            return start
        self.advance()
        stop = "" if self.at_op(":") or self.at_op("]") else self.expression()
        step = ""
        if self.at_op(":"):
            self.advance()
            step = "" if self.at_op("]") else self.expression()
        return f"{start}:{stop}:{step}"

    def path_text(self, start: int) -> str:
        return "".join(token.text for token in self.tokens[start : self.index])

    def primary(self) -> str:
        token = self.current
        if token.kind is Kind.NAME:
            if token.text in KEYWORDS:
                self.fail("expected a value")
            self.advance()
            return LITERALS.get(token.text, token.text)
        if token.kind in (Kind.NUMBER, Kind.STRING):
            self.advance()
            return token.text
        if self.at_op("("):
            return self.parenthesised()
        if self.at_op("["):
            return self.sequence("[", "]")
        if self.at_op("{"):
            return self.mapping()
        self.fail("expected a value")

    def parenthesised(self) -> str:
        self.advance()
        if self.at_op(")"):
            self.advance()
            return "()"
        inner = self.expression()
        if self.at_op(","):
            items = [inner]
            while self.at_op(","):
                self.advance()
                if self.at_op(")"):
                    break
                items.append(self.expression())
            inner = ", ".join(items) + ","
        self.expect_op(")")
        return f"({inner})"

    def sequence(self, opening: str, closing: str) -> str:
        self.expect_op(opening)
        items: list[str] = []
        while not self.at_op(closing):
            if items:
                self.expect_op(",")
                if self.at_op(closing):
                    break
            items.append(self.expression())
        self.expect_op(closing)
        return opening + ", ".join(items) + closing

    def mapping(self) -> str:
        self.expect_op("{")
        items: list[str] = []
        while not self.at_op("}"):
            if items:
                self.expect_op(",")
                if self.at_op("}"):
                    break
            key = self.expression()
            self.expect_op(":")
            items.append(f"({key}): ({self.expression()})")
        self.expect_op("}")
        return "{" + ", ".join(items) + "}"


def combine(operator: str, left: str, right: str) -> str:
    """The Jinja text of ``left <operator> right``."""
    if operator in ("or", "and"):
        return f"((({left})|_pebble_truthy) {operator} (({right})|_pebble_truthy))"
    if operator == "equals":
        return f"(({left}) == ({right}))"
    if operator in _PLAIN_OPERATORS:
        return f"(({left}) {operator} ({right}))"
    if operator == "??":
        return f"(((({left})|_pebble_some) or [({right})])[0])"
    if operator == "???":
        return f"(((({left})|_pebble_known) or [({right})])[0])"
    helper = {"contains": "_pebble_contains", "~": "_pebble_concat", "..": "_pebble_range"}[operator]
    return f"(({left})|{helper}({right}))"


def parse_expression(tokens: list[Token], source: str) -> str:
    """The Jinja expression for a whole ``{{ }}`` body."""
    parser = ExpressionParser(tokens, source)
    if parser.current.kind is Kind.END:
        parser.fail("expected an expression")
    result = parser.expression()
    parser.expect_end()
    return result
