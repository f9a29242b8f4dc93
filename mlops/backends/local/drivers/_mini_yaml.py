"""The YAML subset MLTable files use (`mini_yaml`), for a step's environment without PyYAML:
`_parallel_input.read_mltable` reads an MLTable file with PyYAML when it can, else with this.
A module of its own as it is a parser, apart from what the MLTable's keys mean.

Standard library only, Python 3.8 syntax outside annotations: see the package docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._parallel_input import InputError


@dataclass
class _Line:
    indent: int
    text: str
    number: int


def mini_yaml(text: str) -> Any:
    """The YAML subset MLTable files use, for environments without PyYAML: block mappings,
    block sequences (`- key: value` items too), quoted and plain scalars, true/false/null,
    integers, comments. Anything else (flow `[...]`/`{...}`, `|`/`>` blocks, anchors) is an
    InputError that says to add pyyaml, never a silent misreading."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        body = raw.rstrip()
        stripped = body.lstrip(" ")
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        if "\t" in body[: len(body) - len(stripped)]:
            raise InputError(f"MLTable line {number}: tabs in indentation")
        lines.append(_Line(len(body) - len(stripped), stripped, number))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0].indent)
    if end != len(lines):
        raise InputError(f"MLTable line {lines[end].number}: unexpected indentation")
    return value


def _block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    line = lines[i]
    if line.text == "-" or line.text.startswith("- "):
        return _sequence(lines, i, indent)
    if _key(line) is not None:
        return _mapping(lines, i, indent)
    return _scalar(line.text, line.number), i + 1


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    items = []
    while (
        i < len(lines)
        and lines[i].indent == indent
        and (lines[i].text == "-" or lines[i].text.startswith("- "))
    ):
        rest = lines[i].text[1:].lstrip(" ")
        if not rest:
            if i + 1 < len(lines) and lines[i + 1].indent > indent:
                value, i = _block(lines, i + 1, lines[i + 1].indent)
            else:
                value, i = None, i + 1
        else:  # "- key: value" opens a mapping whose keys sit where `key` starts
            inner = indent + len(lines[i].text) - len(rest)
            lines[i] = _Line(inner, rest, lines[i].number)
            value, i = _block(lines, i, inner)
        items.append(value)
    return items, i


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while i < len(lines) and lines[i].indent == indent:
        parsed = _key(lines[i])
        if parsed is None:
            raise InputError(f"MLTable line {lines[i].number}: expected `key: value`")
        key, rest = parsed
        number = lines[i].number
        i += 1
        if rest:
            result[key] = _scalar(rest, number)
        elif i < len(lines) and (
            lines[i].indent > indent
            or (lines[i].indent == indent and lines[i].text.startswith("- "))
        ):
            result[key], i = _block(lines, i, lines[i].indent)
        else:
            result[key] = None
    return result, i


def _key(line: _Line) -> tuple[str, str] | None:
    """(key, rest) when the line is `key:` or `key: rest`; quoted keys too."""
    text = line.text
    if text[0] in "'\"":
        close = text.find(text[0], 1)
        if close < 0 or not text[close + 1 :].startswith(":"):
            return None
        key, after = text[1:close], text[close + 2 :]
    else:
        for at, char in enumerate(text):
            if char == ":" and (at + 1 == len(text) or text[at + 1] == " "):
                key, after = text[:at].rstrip(), text[at + 1 :]
                break
            if char == " " and text[at + 1 : at + 2] == "#":
                return None
        else:
            return None
    if after and not after.startswith(" "):
        return None
    rest = after.strip()
    return key, "" if rest.startswith("#") else rest


def _scalar(text: str, number: int) -> Any:
    if text[0] in "[{|>&*!":
        raise InputError(
            f"MLTable line {number}: {text[0]!r} needs a full YAML parser: add pyyaml to the"
            " step's environment"
        )
    if text[0] in "'\"":
        quote = text[0]
        out, at = [], 1
        while at < len(text):
            char = text[at]
            if quote == "'" and char == "'" and text[at + 1 : at + 2] == "'":
                out.append("'")
                at += 2
                continue
            if quote == '"' and char == "\\" and at + 1 < len(text):
                out.append({"n": "\n", "t": "\t"}.get(text[at + 1], text[at + 1]))
                at += 2
                continue
            if char == quote:
                tail = text[at + 1 :].strip()
                if tail and not tail.startswith("#"):
                    raise InputError(f"MLTable line {number}: text after a quoted value")
                return "".join(out)
            out.append(char)
            at += 1
        raise InputError(f"MLTable line {number}: unclosed quote")
    comment = text.find(" #")
    plain = (text[:comment] if comment >= 0 else text).strip()
    lowered = plain.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~", ""):
        return None
    try:
        return int(plain)
    except ValueError:
        return plain
