"""Find, parse and validate mlops.yaml, reporting every problem with file:line:column."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mlops import limits
from mlops.config import checks, jsonschema
from mlops.config._messages import explain
from mlops.config.root import Config
from mlops.errors import ConfigError, Issue

CONFIG_FILE = "mlops.yaml"
MINIMAL_CONFIG = "project:\n  name: churn\n"


def find_config(start: Path | None = None) -> Path:
    """The nearest mlops.yaml in `start` (default: the current folder) or any parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_FILE} in {here} or any folder above it",
        hint=f"run from a project folder, pass --config PATH, or create {CONFIG_FILE} with:\n"
        + MINIMAL_CONFIG,
    )


def display_path(path: Path) -> str:
    """`path` relative to the current folder when it is below it, as users typed it."""
    if not path.is_absolute():
        return str(path)
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config with where it came from, so later errors can point into the file."""

    config: Config
    path: Path
    source: Any = field(repr=False)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def root(self) -> Path:
        """The folder of mlops.yaml: relative paths in the config resolve against it."""
        return self.path.parent

    def issue(self, loc: tuple[str, ...], message: str, hint: str | None = None) -> Issue:
        """An error about config path `loc`, pointing at it (or its nearest present ancestor)."""
        line, column = locate(self.source, list(loc))
        return Issue(".".join(loc), message, hint, display_path(self.path), line, column, loc=loc)

    def where(self, *loc: str | int) -> str:
        """`file:line:column` of a config path (or its nearest ancestor present in the file)."""
        line, column = locate(self.source, list(loc))
        return f"{display_path(self.path)}:{line}:{column}"


def load_config(path: Path) -> LoadedConfig:
    """Read and validate `path`; raise ConfigError listing every problem found."""
    shown = display_path(path)
    source = _read_yaml(path, shown)
    bad_names = [
        _placed(i, source, shown)
        for i in checks.environment_name_errors(source.get("environments"))
    ]
    try:
        config = Config.model_validate(_without(source, bad_names))
    except ValidationError as exc:
        issues = [_issue_from_pydantic(error, source, shown) for error in exc.errors()]
        raise _invalid(shown, [*bad_names, *issues]) from None
    found = [
        _placed(issue, source, shown)
        for issue in [*checks.check(config), *checks.missing_files(config, path.parent)]
    ]
    errors = [*bad_names, *(i for i in found if i.severity == "error")]
    if errors:
        raise _invalid(shown, errors, warnings=[i for i in found if i.severity == "warning"])
    return LoadedConfig(config, path, source, [i for i in found if i.severity == "warning"])


def _without(source: CommentedMap, bad_names: list[Issue]) -> Any:
    """`source` without the environments whose names are already reported, so pydantic
    reports the other problems instead of failing on names derived from the bad ones."""
    if not bad_names:
        return source
    dropped = {issue.loc[1] for issue in bad_names}
    environments = source["environments"]
    return {**source, "environments": {k: v for k, v in environments.items() if k not in dropped}}


def _invalid(shown: str, issues: list[Issue], warnings: list[Issue] | None = None) -> ConfigError:
    issues = sorted(issues, key=lambda i: (i.line or 0, i.column or 0))
    count = f"{len(issues)} error{'s' if len(issues) != 1 else ''}"
    return ConfigError(
        f"{shown} is invalid: {count}",
        hint="fix the lines above, then run `mlops config validate`",
        issues=issues + (warnings or []),
    )


def _read_yaml(path: Path, shown: str) -> Any:
    try:
        text = limits.read_text(
            path,
            shown,
            limits.MAX_CONFIG_BYTES,
            ConfigError,
            f"{CONFIG_FILE} holds settings, not data: keep data in the files it names",
        )
    except FileNotFoundError:
        raise ConfigError(
            f"{shown} does not exist",
            hint=f"check --config, or create it with:\n{MINIMAL_CONFIG}",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {shown}: {exc.strerror or exc}") from None
    try:
        data = limits.load_yaml(text, shown, ConfigError)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        issue = Issue(
            path="",
            message=f"YAML syntax error: {problem}",
            hint="check indentation, colons and quoting around this point",
            file=shown,
            line=line,
            column=column,
        )
        raise ConfigError(f"{shown} is not valid YAML", issues=[issue]) from None
    except YAMLError as exc:
        raise ConfigError(f"{shown} is not valid YAML: {exc}") from None
    if data is None:
        raise ConfigError(
            f"{shown} is empty", hint=f"the smallest valid config is:\n{MINIMAL_CONFIG}"
        )
    if not isinstance(data, dict):
        lc = getattr(data, "lc", None)
        line, column = (lc.line + 1, lc.col + 1) if lc is not None else (1, 1)
        issue = Issue("", "expected a mapping at the top level", None, shown, line, column)
        raise ConfigError(
            f"{shown} is invalid: 1 error",
            hint=f"the smallest valid config is:\n{MINIMAL_CONFIG}",
            issues=[issue],
        )
    return data


def _issue_from_pydantic(error: dict[str, Any], source: Any, shown: str) -> Issue:
    loc = list(error["loc"])
    on_key = error["type"] in ("extra_forbidden", "missing") or (loc and loc[-1] == "[key]")
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
    # a missing key is reported on the mapping that lacks it
    loc_in_file = loc[:-1] if error["type"] == "missing" else loc
    message, hint = explain(error, jsonschema.keys_at(loc[:-1]), jsonschema.node_at(loc))
    line, column = locate(source, loc_in_file, on_key=on_key)
    return Issue(".".join(map(str, loc)), message, hint, shown, line, column, loc=tuple(loc))


def _placed(issue: Issue, source: Any, shown: str) -> Issue:
    line, column = locate(source, list(issue.loc))
    return dataclasses.replace(issue, file=shown, line=line, column=column)


def locate(source: Any, parts: list[Any], *, on_key: bool = False) -> tuple[int, int]:
    """1-based line and column of the deepest node of `parts` present in the YAML.

    Collections point at their key, scalars at their value, unless `on_key` asks for the key.
    """
    node, position = source, (0, 0)
    for part in parts:
        try:
            if isinstance(node, CommentedMap):
                key = _matching_key(node, part)
                key_pos, value_pos = node.lc.key(key), node.lc.value(key)
                node = node[key]
                scalar = not isinstance(node, dict | list)
                position = value_pos if scalar and not on_key else key_pos
            elif isinstance(node, CommentedSeq):
                index = int(part)
                position = node.lc.item(index)
                node = node[index]
            else:
                break
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            break
    return position[0] + 1, position[1] + 1


def _matching_key(node: CommentedMap, part: Any) -> Any:
    if part in node:
        return part
    for key in node:  # pydantic reports keys as strings, YAML may have held numbers
        if str(key) == str(part):
            return key
    raise KeyError(part)
