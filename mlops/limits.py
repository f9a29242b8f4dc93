"""Read YAML input within limits, so hostile files are refused with a location, never parsed.

Every limit is far above what a real file needs and far below what hangs or overflows the
parsers: ruamel's pure-Python round-trip loader reads about 4 s per MiB of dense YAML, and
both it and the SDK's PyYAML recurse once per nesting level (Python's stack ends near 1,000).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError

from mlops.errors import BadInputError, Issue

MIB = 1 << 20
#: mlops.yaml holds settings, not data: the largest real ones are a few KiB (about 5 s to parse
#: 1 MiB), and a 60 MB file would take minutes and gigabytes before saying anything.
MAX_CONFIG_BYTES = 1 * MIB
#: one Azure ML pipeline or component file; real ones are a few KiB, generated ones rarely 100.
MAX_AML_YAML_BYTES = 2 * MIB
#: nesting levels of mappings and sequences; real files nest under 15, the parsers and the
#: SDK's marshmallow schemas overflow Python's stack somewhere under 300.
MAX_YAML_DEPTH = 100
#: values a document holds once its aliases are expanded; stops "billion laughs" documents,
#: whose few lines expand to billions of values in whatever walks them.
MAX_YAML_VALUES = 1_000_000
#: pipeline components inside pipeline components, through component files.
MAX_COMPONENT_NESTING = 20


def read_text(
    path: Path, shown_path: str, max_bytes: int, error: type[BadInputError], hint: str
) -> str:
    """The UTF-8 text of `path`, refused before decoding when it holds more than `max_bytes`.

    At most `max_bytes + 1` bytes are read, so a huge file, a device or a growing file cannot
    hang us; `hint` says what belongs elsewhere. Raises OSError for the caller to word.
    """
    with path.open("rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        problem = f"larger than {_size(max_bytes)}, the limit for this kind of file"
        raise error(
            f"{shown_path} was refused before parsing: {problem}",
            hint=hint,
            issues=[Issue("", problem, hint, shown_path)],
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data, exc.start)
        raise error(
            f"{shown_path} is not UTF-8 text",
            hint="save it as UTF-8, the encoding YAML files use",
            issues=[
                Issue(
                    "",
                    f"byte 0x{data[exc.start]:02x} is not UTF-8 ({exc.reason})",
                    "save the file as UTF-8; check for text pasted from another encoding",
                    shown_path,
                    line,
                    column,
                )
            ],
        ) from None


def load_yaml(text: str, shown_path: str, error: type[BadInputError]) -> Any:
    """Round-trip load `text`, refusing documents nested or expanding past the limits.

    Syntax errors propagate as ruamel's YAMLError for the caller to locate and word.
    """
    yaml = YAML(typ="rt", pure=True)
    yaml.Composer = _LimitedComposer
    try:
        return yaml.load(text)
    except _Refused as exc:
        raise error(
            f"{shown_path} was refused: {exc.problem}",
            hint=exc.hint,
            issues=[Issue(exc.path, exc.problem, exc.hint, shown_path, exc.line, exc.column)],
        ) from None
    except ReaderError as exc:
        position = exc.position if isinstance(exc.position, int) else 0
        line, column = _line_column(text.encode("utf-8"), len(text[:position].encode("utf-8")))
        character = exc.character if isinstance(exc.character, int) else 0
        raise error(
            f"{shown_path} holds a character YAML does not allow",
            hint="remove it; YAML files are printable text",
            issues=[
                Issue(
                    "",
                    f"character U+{character:04X} is not allowed in YAML ({exc.reason})",
                    "remove it, or write it as an escape inside a double-quoted string",
                    shown_path,
                    line,
                    column,
                )
            ],
        ) from None


class _Refused(Exception):
    def __init__(self, problem: str, hint: str, node_or_mark: Any, path: str = "") -> None:
        super().__init__(problem)
        self.problem, self.hint, self.path = problem, hint, path
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None


class _LimitedComposer(Composer):  # type: ignore[misc]
    """ruamel's composer, refusing a document nested or expanding past the limits.

    Depth is counted while composing, before the recursion that would overflow; expanded
    values are counted once the document is composed, each shared node once.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._keys: list[str] = []  # where composing is, to name the field that nests too deep

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            return super().compose_node(parent, index)
        if parent is not None:
            self._keys.append(str(getattr(index, "value", index)))
        try:
            if len(self._keys) >= MAX_YAML_DEPTH:
                from mlops.config.checks import printable

                raise _Refused(
                    f"nested deeper than {MAX_YAML_DEPTH} levels, the limit",
                    "flatten it: no mlops.yaml or Azure ML field nests this deep",
                    self.parser.peek_event().start_mark,
                    ".".join(printable(k, 20) for k in self._keys[:4]) + "...",
                )
            return super().compose_node(parent, index)
        finally:
            if parent is not None:
                self._keys.pop()

    def compose_document(self) -> Any:
        node = super().compose_document()
        if node is not None:
            _expanded_values(node, {})
        return node


def _expanded_values(node: Node, seen: dict[int, int]) -> int:
    """How many values `node` stands for with aliases expanded (depth is already bounded)."""
    if id(node) in seen:
        return seen[id(node)]
    count = 1
    if isinstance(node, MappingNode):
        for key, value in node.value:
            count += _expanded_values(key, seen) + _expanded_values(value, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            count += _expanded_values(item, seen)
    if count > MAX_YAML_VALUES:
        raise _Refused(
            f"its aliases expand to more than {MAX_YAML_VALUES:,} values, the limit",
            "write the values out, or use fewer nested aliases (*name)",
            node,
        )
    seen[id(node)] = count
    return count


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _size(count: int) -> str:
    return f"{count // MIB} MiB" if count % MIB == 0 else f"{count:,} bytes"
