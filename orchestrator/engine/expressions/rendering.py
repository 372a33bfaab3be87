"""Rendering templates against an execution context: the package's entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError, Undefined, pass_context
from jinja2.exceptions import TemplateAssertionError
from jinja2.runtime import Context

from orchestrator.engine.expressions.environment import build_environment
from orchestrator.engine.expressions.errors import ExpressionError, PebbleSyntaxError
from orchestrator.engine.expressions.limits import MAX_OUTPUT, MAX_RENDER_DEPTH, check_output, check_render, render_budget
from orchestrator.engine.expressions.pebble import translate

Functions = Mapping[str, Callable[..., Any]]

_CACHE_SIZE = 4096
_RESULT = "_pebble_result"
_depth: ContextVar[int] = ContextVar("expression_render_depth", default=0)


def render(template: str, context: Mapping[str, Any], functions: Functions | None = None) -> str:
    """Render a Pebble template to text; raises ``ExpressionError``."""
    if "{{" not in template and "{%" not in template:
        return template
    try:
        compiled = _compile_text(template)
        with render_budget():
            return _collect(compiled.root_render_func(_new_context(compiled, context, functions)))
    except Exception as exc:
        error = _expression_error(template, exc)
        if error is exc:
            raise
        raise error from exc


def render_typed(template: str, context: Mapping[str, Any], functions: Functions | None = None) -> Any:
    """The native value when ``template`` (stripped) is exactly one ``{{ expr }}``, else ``render()``."""
    if "{{" not in template and "{%" not in template:
        return template
    try:
        compiled = _compile_typed(template)
        if compiled is not None:
            jinja_context = _new_context(compiled, context, functions)
            with render_budget():
                for _ in compiled.root_render_func(jinja_context):
                    check_render()
            return _native(jinja_context.vars[_RESULT])
    except Exception as exc:
        error = _expression_error(template, exc)
        if error is exc:
            raise
        raise error from exc
    return render(template, context, functions)


def render_value(value: Any, context: Mapping[str, Any], functions: Functions | None = None) -> Any:
    """Render every string inside dicts (keys too), lists and tuples as text; others unchanged."""
    if isinstance(value, str):
        return render(value, context, functions)
    if isinstance(value, Mapping):
        return {
            render_value(key, context, functions): render_value(item, context, functions)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [render_value(item, context, functions) for item in value]
    if isinstance(value, tuple):
        return tuple(render_value(item, context, functions) for item in value)
    return value


@pass_context
def render_function(context: Context, value: Any, recursive: bool = True) -> Any:
    """The template function ``render(str)``: render a string with the caller's variables.

    With ``recursive`` (the default) the result is rendered again while it still holds an
    expression, up to ``MAX_RENDER_DEPTH`` nested renders.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if not isinstance(value, str):
        return value
    depth = _depth.get()
    if depth >= MAX_RENDER_DEPTH:
        raise ExpressionError.for_template(value, f"render() nests more than {MAX_RENDER_DEPTH} levels deep")
    token = _depth.set(depth + 1)
    try:
        result = render(value, context.get_all())
        if recursive and result != value and ("{{" in result or "{%" in result):
            return render_function(context, result, recursive)
        return result
    finally:
        _depth.reset(token)


ENVIRONMENT = build_environment({"render": render_function})


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_text(template: str) -> Template:
    return ENVIRONMENT.from_string(translate(template).jinja)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_typed(template: str) -> Template | None:
    expression = translate(template.strip()).expression
    if expression is None:
        return None
    return ENVIRONMENT.from_string(f"{{% set {_RESULT} = {expression} %}}")


def _new_context(compiled: Template, context: Mapping[str, Any], functions: Functions | None) -> Context:
    # One merged dict, shared as-is: Jinja's default would copy globals and variables again.
    variables = {**ENVIRONMENT.globals, **context, **functions} if functions else {**ENVIRONMENT.globals, **context}
    return compiled.new_context(variables, shared=True)


def _collect(pieces: Iterator[str]) -> str:
    collected: list[str] = []
    size = 0
    for piece in pieces:
        check_render()
        size += len(piece)
        if size > MAX_OUTPUT:
            check_output(size)
        collected.append(piece)
    return "".join(collected)


def _native(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Iterator):
        return list(value)
    if isinstance(value, str) and type(value) is not str:
        return str(value)  # Markup from |safe or |escape
    return value


def _expression_error(template: str, exc: Exception) -> ExpressionError:
    if isinstance(exc, ExpressionError):
        # Raised by a nested render() (already names its template) or bare by an engine function.
        return exc if exc.template is not None else ExpressionError.for_template(template, str(exc))
    return ExpressionError.for_template(template, _reason(exc))


def _reason(exc: Exception) -> str:
    if isinstance(exc, PebbleSyntaxError):
        return str(exc)
    if isinstance(exc, TemplateAssertionError):
        return f"{exc.message} (line {exc.lineno})"
    if isinstance(exc, TemplateSyntaxError):
        return f"syntax error at line {exc.lineno}: {exc.message}"
    if isinstance(exc, TemplateError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "the expression nests too deeply"
    return f"{type(exc).__name__}: {exc}"
