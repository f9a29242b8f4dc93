"""Reading Azure ML YAML: the file within limits, positions of keys, plain values and the
declarations of inputs and outputs, shared by the loaders of jobs and components."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from mlops import limits
from mlops.errors import PipelineError, PipelineRefusedError
from mlops.pipeline.model import InputDecl, OutputDecl, Where


def read_yaml(path: Path) -> CommentedMap:
    """The mapping in an Azure ML YAML file, read within the limits of `mlops.limits`.

    Raises PipelineRefusedError for a file too large, too deep or not UTF-8, and
    PipelineError for one that is missing, unreadable or not a YAML mapping.
    """
    from mlops.config import display_path

    shown = display_path(path)
    try:
        text = limits.read_text(
            path,
            shown,
            limits.MAX_AML_YAML_BYTES,
            PipelineRefusedError,
            "Azure ML YAML describes jobs and components: keep data in the files inputs name",
        )
        data = limits.load_yaml(text, shown, PipelineRefusedError)
    except FileNotFoundError:
        raise PipelineError(f"{shown} does not exist") from None
    except OSError as exc:
        raise PipelineError(f"cannot read {shown}: {exc.strerror or exc}") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PipelineError(
            f"{shown} is not valid YAML",
            issues=[
                Where(path, mark.line + 1, mark.column + 1).issue(
                    "", f"YAML syntax error: {problem}"
                )
                if mark
                else Where(path).issue("", f"YAML syntax error: {problem}")
            ],
        ) from None
    if not isinstance(data, dict):
        raise PipelineError(
            f"{shown} does not hold a YAML mapping",
            issues=[Where(path).issue("", "expected a mapping at the top level")],
        )
    return data


def at(node: Any, key: Any, file: Path) -> Where:
    try:
        line, column = node.lc.key(key)
        return Where(file, line + 1, column + 1)
    except (AttributeError, KeyError, TypeError):
        lc = getattr(node, "lc", None)
        return Where(file, (lc.line + 1) if lc else 1, (lc.col + 1) if lc else 1)


def plain(value: Any) -> Any:
    """ruamel's round-trip types as plain dicts, lists and scalars."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def declarations(data: Any, file: Path) -> tuple[dict[str, InputDecl], dict[str, Where]]:
    decls, where = {}, {}
    for name, spec in (data or {}).items():
        where[name] = at(data, name, file)
        if isinstance(spec, dict):
            decls[name] = InputDecl(
                name,
                str(spec.get("type", "string")),
                plain(spec.get("default", spec.get("value", spec.get("path")))),
                bool(spec.get("optional", False)),
            )
        else:
            decls[name] = InputDecl(name, literal_type(spec), plain(spec))
    return decls, where


def step_inputs(
    data: Any, file: Path, *, inline: bool
) -> tuple[dict[str, InputDecl], dict[str, Where]]:
    """The inputs of a command-like step and where each is written: an inline step (or a
    job) declares them by giving them values, a component file by declaring them."""
    if not inline:
        return declarations(data.get("inputs"), file)
    given = data.get("inputs") or {}
    inputs = {name: inline_input(name, value) for name, value in given.items()}
    return inputs, {name: at(given, name, file) for name in inputs}


def literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def output_declarations(data: Any) -> dict[str, OutputDecl]:
    outputs = {}
    for name, spec in (data or {}).items():
        kind = spec.get("type", "uri_folder") if isinstance(spec, dict) else "uri_folder"
        path = spec.get("path") if isinstance(spec, dict) else None
        outputs[name] = OutputDecl(name, str(kind), None if path is None else str(path))
    return outputs


def inline_input(name: str, value: Any) -> InputDecl:
    if isinstance(value, dict):
        return InputDecl(name, str(value.get("type", "uri_folder")), plain(value.get("path")))
    if isinstance(value, str) and "${{" in value:
        return InputDecl(name, "any")
    return InputDecl(name, literal_type(value), plain(value))


def limits_timeout(limits: Any) -> float | None:
    """`limits.timeout` of a command step, in seconds (the SDK's loader has checked its type)."""
    value = limits.get("timeout") if isinstance(limits, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None
