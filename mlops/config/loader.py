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
from mlops.config import checks, jsonschema, teams
from mlops.config._messages import explain
from mlops.config.root import Config
from mlops.config.teams import BINDING, PROJECT_SECTIONS, PlatformRef
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


def display_near(path: Path) -> str:
    """`path` relative to the current folder even when it is beside it (`../platform/...`),
    as a model repository names its platform."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config with where it came from, so later errors can point into the file.

    In a model repository bound to a platform, `platform` is the platform's own loaded
    config, and paths to platform sections point into the platform's file.
    """

    config: Config
    path: Path
    source: Any = field(repr=False)
    warnings: list[Issue] = field(default_factory=list)
    platform: LoadedConfig | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        """The folder of mlops.yaml: relative paths in the config resolve against it."""
        return self.path.parent

    def issue(self, loc: tuple[str, ...], message: str, hint: str | None = None) -> Issue:
        """An error about config path `loc`, pointing at it (or its nearest present ancestor)."""
        source, shown = self._file_of(loc)
        line, column = locate(source, list(loc))
        return Issue(".".join(loc), message, hint, shown, line, column, loc=loc)

    def where(self, *loc: str | int) -> str:
        """`file:line:column` of a config path (or its nearest ancestor present in the file)."""
        source, shown = self._file_of(loc)
        line, column = locate(source, list(loc))
        return f"{shown}:{line}:{column}"

    def _file_of(self, loc: tuple[Any, ...]) -> tuple[Any, str]:
        if self.platform is not None and loc and not _in_model_file(self.source, loc[0]):
            return self.platform.source, display_near(self.platform.path)
        return self.source, display_path(self.path)


def load_config(path: Path, text: str | None = None) -> LoadedConfig:
    """Read and validate `path` (or `text`, as if it were `path`'s content); raise
    ConfigError listing every problem found, each with the file it is in.

    A model repository's file that names a `platform:` is validated together with the
    platform's file: the platform sections come from there."""
    shown = display_path(path)
    source = _read_yaml(path, shown, text)
    if source.get(BINDING) is not None:  # `platform: null` is what `config show` prints
        return _load_bound(path, shown, source)
    return _load_single(path, shown, source)


def _load_single(path: Path, shown: str, source: Any) -> LoadedConfig:
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
        for issue in [
            *checks.check(config),
            *teams.check(config.teams, list(config.environments.azure)),
            *checks.missing_files(config, path.parent),
        ]
    ]
    errors = [*bad_names, *(i for i in found if i.severity == "error")]
    if errors:
        raise _invalid(shown, errors, warnings=[i for i in found if i.severity == "warning"])
    return LoadedConfig(config, path, source, [i for i in found if i.severity == "warning"])


def _in_model_file(model_source: Any, key: Any) -> bool:
    """Whether top-level `key` is read from the model repository's file: its own sections,
    and keys no section has (typos are reported where they were typed)."""
    key = str(key)
    return key in (*PROJECT_SECTIONS, BINDING) or (
        key in model_source and key not in Config.model_fields
    )


def _load_bound(path: Path, shown: str, source: Any) -> LoadedConfig:
    """A model repository's config: its project sections over its platform's sections."""
    misplaced = [
        Issue(
            key,
            f"'{key}' belongs in the platform repository, not in a model repository",
            "move it to the platform's mlops.yaml (or ask the platform owner), and delete it here",
            shown,
            *locate(source, [key], on_key=True),
            loc=(key,),
        )
        for key in source
        if not _in_model_file(source, key)
    ]
    try:
        ref = PlatformRef.model_validate(source[BINDING])
    except ValidationError as exc:
        issues = [
            _issue_from_pydantic({**e, "loc": (BINDING, *e["loc"])}, source, shown)
            for e in exc.errors()
        ]
        raise _invalid(shown, [*misplaced, *issues]) from None
    platform_path = Path(os.path.normpath(path.parent / ref.path))
    platform_shown = display_near(platform_path)
    try:
        platform = _load_platform(platform_path, path)
    except ConfigError as exc:
        if not exc.issues:  # unreadable: say so where the model file names it
            exc.issues.append(
                Issue(
                    f"{BINDING}.path",
                    exc.message,
                    "check the platform repository out there, or fix platform.path (relative"
                    f" to {shown})",
                    shown,
                    *locate(source, [BINDING, "path"]),
                    loc=(BINDING, "path"),
                )
            )
        found = [*misplaced, *exc.issues]
        raise _invalid(
            shown,
            [i for i in found if i.severity == "error"],
            warnings=[i for i in found if i.severity != "error"],
        ) from None
    merged = {
        **{k: v for k, v in platform.source.items() if k not in (*PROJECT_SECTIONS, BINDING)},
        **{k: v for k, v in source.items() if _in_model_file(source, k)},
    }
    bound = _Files(source, shown, platform.source, platform_shown)
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        issues = [_issue_from_pydantic(e, *bound.of(e["loc"])) for e in exc.errors()]
        raise _invalid(shown, [*misplaced, *issues]) from None
    # the platform's resource groups and agent pools are named after the platform's project,
    # not this one's: this repository has none of its own
    assert config.platform is not None
    config.platform.bind(platform.config.project.name)
    config.devops.agent_pool = platform.config.devops.agent_pool
    config.azure.shared_resource_group = platform.config.azure.shared_resource_group
    for env, spec in config.environments.azure.items():
        spec.resource_group = platform.config.environments.azure[env].resource_group
    found = [
        _placed(issue, *bound.of(issue.loc))
        for issue in [
            *checks.check(config),
            *teams.binding_issues(
                ref, config.devops.repository or "", config.teams, platform_shown
            ),
            *checks.missing_files(config, path.parent),
        ]
    ]
    # the platform's own warnings, except about its project sections: not this model's
    shared = [w for w in platform.warnings if not w.loc or str(w.loc[0]) not in PROJECT_SECTIONS]
    seen = {(w.file, w.line, w.message) for w in shared}
    warnings = [
        *shared,
        *(i for i in found if i.severity == "warning" and (i.file, i.line, i.message) not in seen),
    ]
    errors = [*misplaced, *(i for i in found if i.severity == "error")]
    if errors:
        raise _invalid(shown, errors, warnings=warnings)
    return LoadedConfig(config, path, source, warnings, platform=platform)


def _load_platform(platform_path: Path, model_path: Path) -> LoadedConfig:
    """The platform's own config, validated on its own first (its errors are its file's)."""
    if platform_path.resolve() == model_path.resolve():
        raise ConfigError(f"{display_path(model_path)} names itself as its platform")
    platform_shown = display_near(platform_path)
    source = _read_yaml(platform_path, platform_shown)
    if source.get(BINDING) is not None:
        raise ConfigError(
            f"{platform_shown} is invalid: 1 error",
            issues=[
                Issue(
                    BINDING,
                    "a platform's mlops.yaml cannot itself name a platform",
                    "point platform.path at the platform repository's mlops.yaml, the one"
                    " with `teams:`",
                    platform_shown,
                    *locate(source, [BINDING], on_key=True),
                    loc=(BINDING,),
                )
            ],
        )
    return _load_single(platform_path, platform_shown, source)


@dataclass(frozen=True)
class _Files:
    """Which file a config path of a bound model repository is read from."""

    model: Any
    model_shown: str
    platform: Any
    platform_shown: str

    def of(self, loc: tuple[Any, ...] | list[Any]) -> tuple[Any, str]:
        if loc and not _in_model_file(self.model, loc[0]):
            return self.platform, self.platform_shown
        return self.model, self.model_shown


def _without(source: CommentedMap, bad_names: list[Issue]) -> Any:
    """`source` without the environments whose names are already reported, so pydantic
    reports the other problems instead of failing on names derived from the bad ones."""
    if not bad_names:
        return source
    dropped = {issue.loc[1] for issue in bad_names}
    environments = source["environments"]
    return {**source, "environments": {k: v for k, v in environments.items() if k not in dropped}}


def _invalid(shown: str, issues: list[Issue], warnings: list[Issue] | None = None) -> ConfigError:
    # this file's errors first, then another's (a bound model repository's platform)
    issues = sorted(
        issues, key=lambda i: (i.file != shown, i.file or "", i.line or 0, i.column or 0)
    )
    count = f"{len(issues)} error{'s' if len(issues) != 1 else ''}"
    elsewhere = sorted({i.file for i in issues if i.file and i.file != shown})
    return ConfigError(
        f"{shown} is invalid: {count}"
        + (f", in {', '.join([shown, *elsewhere])}" if elsewhere else ""),
        hint="fix the lines above, then run `mlops config validate`",
        issues=issues + (warnings or []),
    )


def _read_yaml(path: Path, shown: str, text: str | None = None) -> Any:
    try:
        text = (
            text
            if text is not None
            else limits.read_text(
                path,
                shown,
                limits.MAX_CONFIG_BYTES,
                ConfigError,
                f"{CONFIG_FILE} holds settings, not data: keep data in the files it names",
            )
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
