"""Onboarding: add, remove and list the teams of a platform, editing its mlops.yaml in place.

Edits are round trips (comments, order and quoting kept), validated as a whole before
anything is written, and atomic (a temporary file renamed over the original), so a refused
or interrupted edit leaves the platform's file as it was. Each edit holds a lock on the file
from reading it to replacing it, so two at once (two platform engineers, two CI jobs) both
land: the second reads what the first wrote.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.config import LoadedConfig, load_config
from mlops.config.loader import display_near, display_path
from mlops.config.teams import Team
from mlops.errors import BadInputError, ConfigError, MlopsError

#: the command-line option that sets each field of a team, to name it in errors
OPTIONS = {
    "data_scientists": "--data-scientists",
    "engineers": "--engineers",
    "repositories": "--repository",
    "contacts": "--contact",
    "cores": "--cores",
    "endpoint_instances": "--endpoint-instances",
    "monthly_budget": "--budget",
    "identities": "--identity",
}
#: how long an edit waits for another one on the same file (each takes well under a second)
LOCK_TIMEOUT = 60.0


@dataclass(frozen=True)
class TeamChange:
    """What `team add` or `team remove` did to the platform's file."""

    action: str  # added, removed
    team: str
    file: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class TeamUsage:
    """What a team uses, as far as it can be read without Azure: the online-endpoint
    instances its model repositories declare, for those checked out beside the platform."""

    endpoint_instances: dict[str, int] = field(default_factory=dict)
    repositories_read: list[str] = field(default_factory=list)
    repositories_not_found: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TeamRow:
    name: str
    team: Team
    usage: TeamUsage

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.team.model_dump(mode="json"),
            "usage": {
                "endpoint_instances": self.usage.endpoint_instances,
                "cores": None,  # Azure ML's usage API only: not readable offline
                "repositories_read": self.usage.repositories_read,
                "repositories_not_found": self.usage.repositories_not_found,
            },
        }


def parse_groups(values: list[str], option: str) -> list[dict[str, str]]:
    """`NAME=OBJECT_ID` values as groups; the object id is checked with the team."""
    groups = []
    for value in values:
        name, sep, object_id = value.rpartition("=")
        if not sep or not name.strip() or not object_id.strip():
            raise BadInputError(
                f"{option} '{value}' is not NAME=OBJECT_ID",
                hint=f"e.g. {option} sg-fraud-ds=00000000-0000-0000-0000-000000000000 (the"
                " group's object id: `az ad group show -g NAME --query id -o tsv`)",
            )
        groups.append({"name": name.strip(), "object_id": object_id.strip()})
    return groups


def parse_identities(values: list[str]) -> dict[str, dict[str, str]]:
    """`ENV=CLIENT_ID:OBJECT_ID` values: the team's service-connection identity per environment."""
    parsed: dict[str, dict[str, str]] = {}
    for value in values:
        env, sep, ids = value.partition("=")
        client_id, colon, object_id = ids.partition(":")
        if not sep or not env or not colon or not client_id or not object_id:
            raise BadInputError(
                f"--identity '{value}' is not ENV=CLIENT_ID:OBJECT_ID",
                hint="the app registration's (or managed identity's) client id and its service"
                " principal's object id, e.g. --identity dev=<client id>:<object id>",
            )
        if env in parsed:
            raise BadInputError(
                f"--identity names '{env}' twice", hint="give each environment once"
            )
        parsed[env] = {"client_id": client_id, "object_id": object_id}
    return parsed


def parse_per_environment(values: list[str], option: str) -> dict[str, int]:
    """`ENV=N` values as a mapping of environment name to a whole number."""
    parsed: dict[str, int] = {}
    for value in values:
        env, sep, number = value.partition("=")
        try:
            count = int(number)
        except ValueError:
            count = -1
        if not sep or not env or count < 0:
            raise BadInputError(
                f"{option} '{value}' is not ENV=N (a whole number, 0 or more)",
                hint=f"e.g. {option} dev=24",
            )
        if env in parsed:
            raise BadInputError(f"{option} names '{env}' twice", hint="give each environment once")
        parsed[env] = count
    return parsed


def platform_config(path: Path) -> LoadedConfig:
    """The platform's config at `path`: refused in a model repository bound to a platform."""
    loaded = load_config(path)
    if loaded.platform is not None:
        where = display_near(loaded.platform.path)
        raise BadInputError(
            f"{display_path(path)} is a model repository's config, bound to the platform {where}",
            hint=f"run team commands in the platform repository: mlops -c {where} team ...",
        )
    return loaded


@contextmanager
def editing(path: Path) -> Iterator[None]:
    """Hold the platform file's edit lock: a file lock (filelock) in the platform's local
    state folder, which its .gitignore keeps out of the repository."""
    from filelock import FileLock, Timeout

    state = platform_config(path).config.environments.local.state_dir
    folder = (path.parent / state).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(folder / f"{path.name}.lock", timeout=LOCK_TIMEOUT):
            yield
    except Timeout:
        raise MlopsError(
            f"another `mlops team` command has been editing {display_path(path)} for over"
            f" {LOCK_TIMEOUT:.0f} s",
            hint=f"wait for it to finish, then run this one again (lock: {folder.name}/"
            f"{path.name}.lock)",
        ) from None


def add(path: Path, name: str, definition: dict[str, Any]) -> TeamChange:
    """Add team `name` to the platform's file; nothing is written when anything is wrong."""
    with editing(path):
        return _add(path, name, definition)


def _add(path: Path, name: str, definition: dict[str, Any]) -> TeamChange:
    from pydantic import TypeAdapter, ValidationError

    from mlops.config._types import TeamName
    from mlops.config.checks import printable

    loaded = platform_config(path)
    shown = display_path(path)
    try:
        TypeAdapter(TeamName).validate_python(name)
    except ValidationError as exc:
        raise BadInputError(
            f"'{printable(name)}' cannot be a team name: {exc.errors()[0]['msg']}",
            hint="team names become part of Azure resource names; e.g. `mlops team add fraud`",
        ) from None
    if name in loaded.config.teams:
        raise BadInputError(
            f"team '{name}' already exists ({loaded.where('teams', name)})",
            hint=f"remove it first (`mlops team remove {name}`), or edit it in {shown}",
        )
    team = _validated_team(definition)
    environments = list(loaded.config.environments.azure)
    named = {
        "cores": team.quotas.cores,
        "endpoint_instances": team.quotas.endpoint_instances,
        "identities": team.identities,
    }
    for key, per_env in named.items():
        for env in per_env:
            if env not in environments:
                raise BadInputError(
                    f"{OPTIONS[key]} names '{env}', which is not an Azure environment of {shown}",
                    hint="per Azure environment: one of "
                    + ", ".join(f"'{e}'" for e in environments),
                )
    for other, existing in loaded.config.teams.items():
        taken = {r.lower() for r in existing.repositories}
        for repository in team.repositories:
            if repository.lower() in taken:
                raise BadInputError(
                    f"--repository '{repository}' is already owned by team '{other}'",
                    hint="a repository belongs to one team",
                )
    text = path.read_text(encoding="utf-8")
    edited = _edit(text, lambda data: _insert_team(data, name, _as_yaml(team)))
    _write_validated(path, edited)
    return TeamChange("added", name, shown, team.model_dump(mode="json", exclude_defaults=True))


def remove(path: Path, name: str) -> TeamChange:
    """Remove team `name` from the platform's file (its model repositories keep their code;
    their configs then fail validation until they move to another team)."""
    with editing(path):
        return _remove(path, name)


def _remove(path: Path, name: str) -> TeamChange:
    from mlops.config.checks import did_you_mean, printable

    loaded = platform_config(path)
    shown = display_path(path)
    if name not in loaded.config.teams:
        declared = list(loaded.config.teams)
        raise BadInputError(
            f"no team '{printable(name)}' in {shown}",
            hint=did_you_mean(name, declared) if declared else "the platform has no teams yet",
        )
    before = loaded.config.teams[name].model_dump(mode="json", exclude_defaults=True)

    text = path.read_text(encoding="utf-8")
    _write_validated(path, _without_team(text, name))
    return TeamChange("removed", name, shown, before)


def _without_team(text: str, name: str) -> str:
    """`text` without team `name`: its lines, and the comment lines right above it (at its
    indentation: they are about it), are cut out as written; everything else stays byte for
    byte, another team's comment included. A round trip cannot do this: ruamel keeps a
    comment above a key with the node before it. The last team leaves `teams: {}` (the
    section and its own comment stay: the platform still takes teams)."""
    from ruamel.yaml import YAML

    data = YAML(typ="rt").load(text)
    teams = data["teams"]
    if teams.fa.flow_style():  # `teams: {a: ..., b: ...}` on one line: no comments inside
        return _edit(text, lambda d: d["teams"].pop(name))
    lines = text.splitlines(keepends=True)
    names = list(teams)
    line, column = teams.lc.key(name)
    start = _comments_above(lines, line, column)
    later = names[names.index(name) + 1 :]
    end = (
        _comments_above(lines, teams.lc.key(later[0])[0], column)
        if later
        else _block_end(lines, line, column)
    )
    kept = lines[:start] + lines[end:]
    if len(names) == 1:
        at = data.lc.key("teams")[0]
        kept[at] = re.sub(r"^(\s*teams:)[ \t]*(#.*)?", _empty_teams, kept[at], count=1)
    return "".join(kept)


def _empty_teams(match: re.Match[str]) -> str:
    comment = match.group(2)
    return f"{match.group(1)} {{}}" + (f"  {comment}" if comment else "")


def _comments_above(lines: list[str], line: int, column: int) -> int:
    """The first of the comment lines at `column` directly above `line` (no blank between)."""
    while line > 0 and _indent(lines[line - 1]) == column:
        if not lines[line - 1].lstrip(" ").startswith("#"):
            break
        line -= 1
    return line


def _block_end(lines: list[str], line: int, column: int) -> int:
    """The line after the last one indented deeper than `column` below `line` (its block)."""
    end = index = line + 1
    while index < len(lines):
        if lines[index].strip():
            if _indent(lines[index]) <= column:
                break
            end = index + 1
        index += 1
    return end


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rows(loaded: LoadedConfig) -> list[TeamRow]:
    """Each team of the platform with the usage that can be read without Azure."""
    return [TeamRow(n, t, _usage(loaded, n, t)) for n, t in loaded.config.teams.items()]


def _usage(loaded: LoadedConfig, name: str, team: Team) -> TeamUsage:
    """Endpoint instances the team's model repositories declare (deployment.instance_count
    in each environment its CD deploys to: every Azure environment after the first), read
    from the repositories checked out beside the platform repository, as `../<repository>`."""
    later = list(loaded.config.environments.azure)[1:]
    used = dict.fromkeys(later, 0)
    read, missing = [], []
    for repository in team.repositories:
        candidate = loaded.root.parent / repository / "mlops.yaml"
        try:
            model = load_config(candidate)
        except ConfigError:
            missing.append(repository)
            continue
        bound = model.platform
        if (
            bound is None
            or bound.path.resolve() != loaded.path.resolve()
            or model.config.platform is None
            or model.config.platform.team != name
        ):
            missing.append(repository)
            continue
        read.append(repository)
        for env in later:
            used[env] += model.config.deployment.instance_count
    return TeamUsage(used if read else {}, read, missing)


def _validated_team(definition: dict[str, Any]) -> Team:
    """The team, or a BadInputError naming the option whose value is wrong."""
    from pydantic import ValidationError

    try:
        return Team.model_validate(definition)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [p for p in error["loc"] if p != "quotas"]
        option = OPTIONS.get(str(loc[0]), str(loc[0])) if loc else "the team"
        value = _given(definition, error["loc"])
        detail = ".".join(str(p) for p in loc[1:] if not isinstance(p, int))
        hint = (error.get("ctx") or {}).get("hint") or None
        raise BadInputError(
            f"{option} {value}: {detail + ': ' if detail else ''}{error['msg']}", hint=hint
        ) from None


def _given(definition: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """The value the user typed for the option at `loc`, as they typed it."""
    if loc and loc[0] == "identities" and len(loc) > 1:
        ids = definition.get("identities", {}).get(loc[1], {})
        return f"'{loc[1]}={ids.get('client_id')}:{ids.get('object_id')}'"
    node: Any = definition
    for part in loc[:3] if loc and loc[0] == "quotas" else loc[:2]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    if isinstance(node, dict) and {"name", "object_id"} <= set(node):
        return f"'{node['name']}={node['object_id']}'"
    return f"'{node}'"


def _as_yaml(team: Team) -> Any:
    """The team as block-style YAML, with short lists and per-environment maps inline."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def inline(value: Any) -> Any:
        node = CommentedSeq(value) if isinstance(value, list) else CommentedMap(value)
        node.fa.set_flow_style()
        return node

    data = team.model_dump(mode="json", exclude_defaults=True)
    out = CommentedMap()
    for key in ("data_scientists", "engineers"):
        if key in data:
            out[key] = CommentedSeq(CommentedMap(g) for g in data[key])
    for key in ("repositories", "contacts"):
        if key in data:
            out[key] = inline(data[key])
    if "quotas" in data:
        quotas = CommentedMap()
        for key, value in data["quotas"].items():
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 500, as typed, not 500.0
            quotas[key] = inline(value) if isinstance(value, dict) else value
        out["quotas"] = quotas
    if "identities" in data:
        out["identities"] = CommentedMap((e, inline(i)) for e, i in data["identities"].items())
    if not out:
        out.fa.set_flow_style()
    return out


def _insert_team(data: Any, name: str, team: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    teams = data.get("teams")
    if teams is None:
        data["teams"] = teams = CommentedMap()
    teams.fa.set_block_style()
    teams[name] = team


def _edit(text: str, change: Any) -> str:
    """`text` after `change(data)`, as a round trip: what is not changed is kept as written."""
    from ruamel.yaml import YAML

    mapping, sequence, offset = _indentation(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    data = yaml.load(text)
    change(data)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _indentation(text: str) -> tuple[int, int, int]:
    """The file's own block indentation (mapping step, sequence content step, dash offset),
    so a round trip re-indents nothing; 2, 4, 2 (`key:` / `  - item`) where it shows none."""
    mapping = sequence = offset = None
    previous: tuple[int, str] | None = None
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        column = len(line) - len(stripped)
        if previous is not None and previous[1].endswith(":") and column > previous[0]:
            step = column - previous[0]
            if stripped.startswith("- ") and offset is None:
                offset = step
                rest = stripped[2:]
                sequence = step + 2 + (len(rest) - len(rest.lstrip(" ")))
            elif not stripped.startswith("- ") and mapping is None:
                mapping = step
        previous = (column, stripped.split(" #")[0].rstrip())
    return mapping or 2, sequence or 4, 2 if offset is None else offset


def _write_validated(path: Path, text: str) -> None:
    """Validate `text` as the platform's new file, then replace the file atomically."""
    load_config(path, text)  # raises ConfigError, with lines of the new text, and writes nothing
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
