"""Kestra's Pebble expression language, rendered with a sandboxed Jinja environment.

``render`` turns a template into text, ``render_typed`` keeps the native value of a lone
``{{ expr }}``, ``render_value`` renders every string inside a structure, ``is_truthy`` is
Kestra's truthiness and ``to_display`` is how any value prints. Everything raises
``ExpressionError`` and nothing else.
"""

from orchestrator.engine.expressions.display import to_display
from orchestrator.engine.expressions.errors import ExpressionError
from orchestrator.engine.expressions.rendering import render, render_typed, render_value
from orchestrator.engine.expressions.truthy import is_truthy

__all__ = ["ExpressionError", "is_truthy", "render", "render_typed", "render_value", "to_display"]
