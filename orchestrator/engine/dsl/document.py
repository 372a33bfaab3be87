"""YAML text → plain Python values, plus where each value and key was written.

PyYAML's composer gives nodes with marks; we build the values ourselves so we can keep
positions, refuse duplicate keys and keep mapping keys as the text written (as Jackson
does: ``NO:`` is the key "NO", not False).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line and column

# Aliases can make a tiny text expand enormously ("billion laughs"); a flow never needs this many nodes.
MAX_NODES = 200_000
# A flow's text, refused above this before it is parsed: PyYAML composes about 250 kB a
# second, so a 10 MB file would take a minute and a gigabyte before any other check.
MAX_FLOW_CHARS = 1024 * 1024

_PLAIN_TAGS = {
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float", "tag:yaml.org,2002:str",
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class YamlProblem:
    message: str
    line: int
    column: int
    path: Path = ()


@dataclass
class Document:
    """The values of a YAML document and the position of every value and mapping key."""

    data: Any
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> Position:
        """Where ``path`` was written (its key with ``key``), else its nearest written ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        current = path
        while current:
            if current in self.values:
                return self.values[current]
            current = current[:-1]
        return self.values.get((), (1, 1))

    def get(self, path: Path) -> Any:
        """The value at ``path``, or None if there is none."""
        node = self.data
        for part in path:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, document: Document, problems: list[YamlProblem]) -> None:
        self.doc = document
        self.problems = problems
        self.constructor = SafeConstructor()
        self.count = 0

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        self.doc.values[path] = _position(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: Node) -> Any:
        assert isinstance(node, ScalarNode)
        if node.tag == _TIMESTAMP:
            # Dates stay the text written: values must stay JSON-compatible.
            return node.value
        if node.tag not in _PLAIN_TAGS:
            self._problem(f"Unsupported YAML tag '{node.tag}'", node)
            return node.value
        try:
            return self.constructor.construct_object(node)
        except ConstructorError as exc:
            self._problem(f"Invalid YAML value: {exc.problem}", node)
            return node.value
        except ValueError:
            # Python refuses to read integers of more than sys.get_int_max_str_digits() digits.
            self._problem(f"Invalid number: more than {sys.get_int_max_str_digits()} digits", node)
            return node.value

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        # Merged keys (<<: *anchor) first, so keys written here override them, positions included.
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                for key, value in self._merged(value_node, path).items():
                    result.setdefault(key, value)
        written: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem("A mapping key must be a plain value, not a list or a mapping", key_node)
                continue
            key = key_node.value
            if key in written:
                self._problem(f"Duplicate key '{key}'", key_node, (*path, key))
                continue
            written.add(key)
            self.doc.keys[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _merged(self, node: Node, path: Path) -> dict[str, Any]:
        """The keys a merge key (``<<``) brings: from one mapping or a list of them, first wins."""
        result: dict[str, Any] = {}
        for source in node.value if isinstance(node, SequenceNode) else [node]:
            if not isinstance(source, MappingNode):
                self._problem("A merge key (<<) needs a mapping or a list of mappings", source)
                continue
            for key, value in self._mapping(source, path).items():
                result.setdefault(key, value)
        return result

    def _problem(self, message: str, node: Node, path: Path = ()) -> None:
        line, column = _position(node)
        self.problems.append(YamlProblem(message, line, column, path))


def _position(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_document(text: str) -> tuple[Document | None, list[YamlProblem]]:
    """The document of ``text``; None with the problems when it cannot be read at all."""
    if len(text) > MAX_FLOW_CHARS:
        return None, [YamlProblem(
            f"The flow is too large: {len(text):,} characters, more than the {MAX_FLOW_CHARS:,} a flow may have. "
            "Keep large scripts, queries and data in files (namespace files, internal storage) and read them "
            "from the flow", 1, 1)]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc)]
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        return None, [YamlProblem(f"Invalid YAML: unacceptable character #x{code:04x}: {exc.reason}", line, column)]
    except yaml.YAMLError as exc:
        return None, [YamlProblem(f"Invalid YAML: {exc}", 1, 1)]
    except RecursionError:
        return None, [YamlProblem("Invalid YAML: the document is nested too deeply", 1, 1)]
    if root is None:
        return None, [YamlProblem("The flow is empty: expected a YAML mapping with id, namespace and tasks", 1, 1)]
    document = Document(None)
    problems: list[YamlProblem] = []
    try:
        document.data = _Builder(document, problems).build(root, ())
    except _TooLarge:
        return None, [YamlProblem(f"The document is too large: more than {MAX_NODES} values once aliases are expanded", 1, 1)]
    except RecursionError:
        return None, [YamlProblem("Invalid YAML: the document is nested too deeply", 1, 1)]
    return document, problems


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "syntax error"
    message = f"Invalid YAML: {exc.context}, {problem}" if exc.context else f"Invalid YAML: {problem}"
    return YamlProblem(message, line, column)


def _line_column(text: str, index: int) -> Position:
    before = text[:index]
    line = before.count("\n") + 1
    return line, index - (before.rfind("\n") + 1) + 1
