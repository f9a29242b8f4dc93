"""Azure ML's `${{...}}` bindings and `$[[...]]` optional blocks in commands and inputs."""

from __future__ import annotations

import re
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

    `lookup` returns the text for a reference, or None when the input is absent.
    """

    def block(match: re.Match[str]) -> str:
        inner = match.group(1)
        if any(lookup(ref) is None for ref in references(inner)):
            return ""
        return inner

    text = OPTIONAL_BLOCK.sub(block, template)

    def binding(match: re.Match[str]) -> str:
        value = lookup(tuple(match.group(1).split(".")))
        return "" if value is None else value

    return BINDING.sub(binding, text).strip()
