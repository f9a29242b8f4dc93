"""Azure ML's `${{...}}` bindings and `$[[...]]` optional blocks in commands and inputs."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

BINDING = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)

Ref = tuple[str, ...]


def whole_binding(value: object) -> Ref | None:
    """The reference when `value` is exactly one binding, e.g. `${{parent.inputs.x}}`."""
    if not isinstance(value, str):
        return None
    match = BINDING.fullmatch(value.strip())
    return tuple(match.group(1).split(".")) if match else None


def references(template: str) -> list[Ref]:
    """Every binding in `template`, in order."""
    return [tuple(m.group(1).split(".")) for m in BINDING.finditer(template)]


def references_outside_optional_blocks(template: str) -> list[Ref]:
    return references(OPTIONAL_BLOCK.sub("", template))


def render(template: str, lookup: Callable[[Ref], str | None]) -> str:
    """Substitute bindings; an optional block whose bindings include an absent value is dropped.

    `lookup` returns the text for a reference, or None when the input is absent. The result is
    a bash command: every value reaches the command as the text it is, never as shell syntax
    (see `shell_render`).
    """

    def block(match: re.Match[str]) -> str:
        inner = match.group(1)
        if any(lookup(ref) is None for ref in references(inner)):
            return ""
        return inner

    text = OPTIONAL_BLOCK.sub(block, template)
    return shell_render(text, lookup).strip()


def shell_render(text: str, lookup: Callable[[Ref], str | None]) -> str:
    """Replace each binding in the bash command `text` with its value, quoted for where it sits.

    Outside quotes a value becomes one word (`shlex.quote`); inside "..." the characters bash
    still interprets there (`$`, backquote, `"`, backslash) are escaped; inside '...' a quote
    closes, is escaped and reopens. A path with spaces stays one argument, and a value such as
    `x$(touch /tmp/pwn)` (a git branch name, a --set value) is never executed. An absent
    value (None) leaves nothing, as in Azure ML.
    """
    out: list[str] = []
    state = _NORMAL
    i = 0
    while i < len(text):
        match = BINDING.match(text, i)
        if match:
            value = lookup(tuple(match.group(1).split(".")))
            out.append("" if value is None else _QUOTERS[state](value))
            i = match.end()
            continue
        char = text[i]
        out.append(char)
        if char == "\\" and state != _SINGLE and i + 1 < len(text):
            out.append(text[i + 1])  # an escaped character changes no state
            i += 2
            continue
        if state == _NORMAL and char in "'\"":
            state = _SINGLE if char == "'" else _DOUBLE
        elif (state == _SINGLE and char == "'") or (state == _DOUBLE and char == '"'):
            state = _NORMAL
        i += 1
    return "".join(out)


_NORMAL, _SINGLE, _DOUBLE = "normal", "single", "double"
_QUOTERS: dict[str, Callable[[str], str]] = {
    _NORMAL: lambda value: shlex.quote(value),
    _SINGLE: lambda value: value.replace("'", "'\\''"),
    _DOUBLE: lambda value: re.sub(r'([$`"\\])', r"\\\1", value),
}
