"""The one error type the expression language raises, and how its messages read."""

from __future__ import annotations

MAX_TEMPLATE_IN_MESSAGE = 200


class ExpressionError(Exception):
    """An expression could not be rendered.

    The message names the template (truncated) and the reason, e.g.
    ``Unable to render '{{ inputs.invalid }}': variable 'inputs.invalid' is undefined``.
    ``template`` is the full source when the error was raised by the renderer, and ``None``
    when a caller-supplied function raised it with a bare reason.
    """

    def __init__(self, message: str, template: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.template = template
        self.reason = reason if reason is not None else message

    @classmethod
    def for_template(cls, template: str, reason: str) -> ExpressionError:
        return cls(f"Unable to render '{shorten(template)}': {reason}", template=template, reason=reason)


class PebbleSyntaxError(Exception):
    """The Pebble source could not be translated; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, source: str, position: int) -> None:
        self.line = source.count("\n", 0, position) + 1
        self.column = position - source.rfind("\n", 0, position)
        super().__init__(f"syntax error at line {self.line}, column {self.column}: {message}")


def shorten(template: str) -> str:
    if len(template) <= MAX_TEMPLATE_IN_MESSAGE:
        return template
    return template[:MAX_TEMPLATE_IN_MESSAGE] + "..."
